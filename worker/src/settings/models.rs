//! The fleet's models: `default` (`--model-dir`) and those of `--models`, each with its own
//! folder and its own index (an embedded index folder, or a Qdrant collection).

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::common::CommonOpts;

/// The name of `--model-dir`'s model in profiles and `DOCFLEET_MODELS`.
pub const DEFAULT_MODEL: &str = "default";

impl CommonOpts {
    /// The default model's index, or `index-<name>` for another model's.
    pub fn index_dir(&self) -> PathBuf {
        match &self.model_name {
            None => self.data_dir.join("index"),
            Some(name) => self.data_dir.join(format!("index-{name}")),
        }
    }

    /// The Qdrant collection (or per-tenant prefix) of this model's vectors.
    pub fn qdrant_collection(&self) -> String {
        match &self.model_name {
            None => self.index.qdrant_collection.clone(),
            Some(name) => format!("{}-{name}", self.index.qdrant_collection),
        }
    }

    /// The fleet's model names: `default` and those of `--models`.
    pub fn model_names(&self) -> Result<Vec<String>> {
        let mut names = vec![DEFAULT_MODEL.to_owned()];
        for (name, _) in self.extra_models()? {
            names.push(name);
        }
        Ok(names)
    }

    fn extra_models(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for entry in self.models.iter().filter(|e| !e.trim().is_empty()) {
            let Some((name, dir)) = entry.split_once('=') else {
                bail!("DOCFLEET_MODELS entry {entry:?}: expected name=folder");
            };
            let name = name.trim();
            crate::profile::validate_model_name(name)?;
            if name == DEFAULT_MODEL || out.iter().any(|(n, _)| n == name) {
                bail!("DOCFLEET_MODELS names the model {name:?} twice (default is --model-dir)");
            }
            out.push((name.to_owned(), PathBuf::from(dir.trim())));
        }
        Ok(out)
    }

    /// The fleet's models that may hold vectors: the default model always (its embedded index
    /// is made on first use), the others when they have a Qdrant collection to ask or an
    /// embedded index folder (made by their first write). Deletes and retention go over these.
    pub fn indexed_models(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for name in self.model_names()? {
            let model = self.for_model(&name)?;
            if name == DEFAULT_MODEL
                || model.index.qdrant_url.is_some()
                || model.index_dir().exists()
            {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// These options for the model `name`: its folder, its index and collection. An unknown
    /// name is an error that lists the fleet's models.
    pub fn for_model(&self, name: &str) -> Result<CommonOpts> {
        if name == DEFAULT_MODEL {
            return Ok(CommonOpts {
                model_name: None,
                ..self.clone()
            });
        }
        let Some((_, dir)) = self.extra_models()?.into_iter().find(|(n, _)| n == name) else {
            bail!(
                "unknown model {name:?}: this fleet has {} (DOCFLEET_MODELS)",
                self.model_names()?.join(", ")
            );
        };
        Ok(CommonOpts {
            model_dir: Some(dir),
            model_name: Some(name.to_owned()),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::settings::common::tests::Cli;

    #[test]
    fn models_are_named_and_each_has_its_own_index() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let cli = Cli::parse_from(["x", "--data-dir", data, "--models", "mini2=/m/a,e5=/m/b"]);
        let c = &cli.common;
        assert_eq!(c.model_names().unwrap(), ["default", "mini2", "e5"]);
        let mini2 = c.for_model("mini2").unwrap();
        assert_eq!(mini2.model_dir(), PathBuf::from("/m/a"));
        assert_eq!(mini2.index_dir(), dir.path().join("index-mini2"));
        assert_eq!(mini2.qdrant_collection(), "docfleet-mini2");
        assert_eq!(
            c.for_model("default").unwrap().index_dir(),
            dir.path().join("index")
        );
        let unknown = c.for_model("big").unwrap_err().to_string();
        assert!(unknown.contains("default, mini2, e5"), "{unknown}");
        assert_eq!(
            c.indexed_models().unwrap(),
            ["default"],
            "no index-mini2 folder yet"
        );
        std::fs::create_dir(dir.path().join("index-mini2")).unwrap();
        assert_eq!(c.indexed_models().unwrap(), ["default", "mini2"]);
        for bad in ["mini2", "default=/m/a", "a=/x,a=/y", "Big=/x"] {
            let cli = Cli::parse_from(["x", "--models", bad]);
            assert!(cli.common.model_names().is_err(), "{bad}");
        }
    }
}
