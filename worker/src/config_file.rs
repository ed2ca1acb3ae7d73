//! `--config FILE` (or `DOCFLEET_CONFIG`): options in a TOML file, by their flag names
//! (`queue = "rabbitmq"`, `lease_secs = 60`, `batch_sizes = [8, 32]`). Precedence: a flag, then a
//! `DOCFLEET_…` variable, then the file, then the default. The file is applied before the
//! command line is parsed, by setting the variables it names that are not already set; a key
//! that is no option is an error, so a typo is never silently ignored.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::CommandFactory;

use crate::cli::Cli;

pub const CONFIG_ENV: &str = "DOCFLEET_CONFIG";
/// Log filter (tracing's `EnvFilter` syntax), read before anything else.
pub const LOG_ENV: &str = "DOCFLEET_LOG";

/// Every `DOCFLEET_…` variable the binary reads: the options', and those that are not options.
pub fn all_vars() -> BTreeSet<String> {
    let mut vars = option_vars();
    vars.extend([CONFIG_ENV, LOG_ENV, docfleet_models::CACHE_DIR_ENV].map(str::to_owned));
    vars
}

/// Every `DOCFLEET_…` variable an option of any command reads (`DOCFLEET_CONFIG` aside).
pub fn option_vars() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env().and_then(|e| e.to_str()) {
                out.insert(env.to_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&Cli::command(), &mut out);
    out.remove(CONFIG_ENV);
    out
}

/// The file's settings as (variable, value) pairs.
pub fn parse(text: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = text.parse().context("not valid TOML")?;
    let known = option_vars();
    let mut out = Vec::new();
    for (key, value) in table {
        let var = format!("DOCFLEET_{}", key.to_uppercase().replace('-', "_"));
        if !known.contains(&var) {
            bail!("`{key}` is not a docfleet option (see `docfleet <command> --help`)");
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(n) => Ok(n.to_string()),
                    other => bail!(
                        "`{key}`: list items must be strings or integers, not a {}",
                        other.type_str()
                    ),
                })
                .collect::<Result<Vec<_>>>()?
                .join(","),
            other => bail!(
                "`{key}`: expected a string, number, boolean or list, not a {}",
                other.type_str()
            ),
        };
        out.push((var, text));
    }
    Ok(out)
}

/// `--config PATH` / `--config=PATH` from the raw arguments, else `DOCFLEET_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

fn load(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    parse(&text).with_context(|| format!("in the config file {}", path.display()))
}

/// Applies the config file, if any. Call first thing in `main`, while the process has one
/// thread: it sets environment variables.
pub fn apply(args: &[OsString]) -> Result<()> {
    let Some(path) = config_path(args) else {
        return Ok(());
    };
    for (var, value) in load(&path)? {
        if std::env::var_os(&var).is_none() {
            // SAFETY: called at the start of `main`, before any other thread exists (no async
            // runtime, no logging thread yet), so nothing reads the environment concurrently.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(&var, value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keys_to_variables_and_refuses_unknown_ones() {
        let got = parse(
            "queue = \"rabbitmq\"\nlease-secs = 90\nexit_when_idle = true\nkafka_properties = [\"a=b\", \"c=d\"]\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("DOCFLEET_EXIT_WHEN_IDLE", "true"),
                ("DOCFLEET_KAFKA_PROPERTIES", "a=b,c=d"),
                ("DOCFLEET_LEASE_SECS", "90"),
                ("DOCFLEET_QUEUE", "rabbitmq"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let err = parse("lease_sec = 90").unwrap_err().to_string();
        assert!(
            err.contains("`lease_sec` is not a docfleet option"),
            "{err}"
        );
        assert!(parse("queue = ").is_err());
        assert!(parse("[queue]\nkind = 1").is_err());
    }

    #[test]
    fn lists_the_variables_of_every_command() {
        let vars = option_vars();
        for v in [
            "DOCFLEET_DRAIN_TIMEOUT_SECS", // worker
            "DOCFLEET_API_ADDR",           // api
            "DOCFLEET_QDRANT_URL",         // global
            "DOCFLEET_AMQP_URL",           // queue options
        ] {
            assert!(vars.contains(v), "{v} missing");
        }
        assert!(
            !vars.contains(CONFIG_ENV),
            "the config file's own variable is not an option"
        );
        assert!(vars.iter().all(|v| v.starts_with("DOCFLEET_")));
        let all = all_vars();
        assert!(all.contains(LOG_ENV) && all.contains(CONFIG_ENV) && all.is_superset(&vars));
    }

    #[test]
    fn finds_the_path_in_the_arguments() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&args(&["docfleet", "worker", "--config", "/etc/d.toml"])),
            Some(PathBuf::from("/etc/d.toml"))
        );
        assert_eq!(
            config_path(&args(&["docfleet", "--config=/x.toml", "jobs"])),
            Some(PathBuf::from("/x.toml"))
        );
    }
}
