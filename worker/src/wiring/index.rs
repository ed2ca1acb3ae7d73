//! The vector index of a model: the Qdrant server at `qdrant_url` (the model's collection), else
//! the embedded index in `<data_dir>/index` (`index-<name>` for another model). This is the one
//! place that tells the two apart; `Indexes` opens them for long-running processes (the API).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::qdrant::{QdrantConfig, QdrantIndex};

use crate::settings::{CommonOpts, DEFAULT_MODEL};

/// Whether the embedded index is opened as its one writer or as a reader (a Qdrant server takes
/// both from anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAccess {
    Write,
    Read,
}

/// Where one model's vectors are.
enum IndexLocation {
    Server(QdrantConfig),
    Embedded(PathBuf),
}

fn locate(common: &CommonOpts) -> Result<IndexLocation> {
    Ok(match common.index.config(common.qdrant_collection())? {
        Some(cfg) => IndexLocation::Server(cfg),
        None => IndexLocation::Embedded(common.index_dir()),
    })
}

impl IndexLocation {
    fn open(self, access: IndexAccess) -> Result<Arc<dyn VectorIndex>> {
        Ok(match (self, access) {
            (IndexLocation::Server(cfg), _) => Arc::new(QdrantIndex::connect(cfg)?),
            (IndexLocation::Embedded(dir), IndexAccess::Write) => {
                Arc::new(EmbeddedIndex::open(&dir)?)
            }
            (IndexLocation::Embedded(dir), IndexAccess::Read) => {
                Arc::new(EmbeddedIndex::open_read_only(&dir)?)
            }
        })
    }
}

/// The index of the model `common` is for (`CommonOpts::for_model`).
pub fn open_index(common: &CommonOpts, access: IndexAccess) -> Result<Arc<dyn VectorIndex>> {
    locate(common)?.open(access)
}

/// Where the vectors are, for messages.
pub fn index_location(common: &CommonOpts) -> String {
    match &common.index.qdrant_url {
        Some(url) => format!("Qdrant at {url}"),
        None => common.index_dir().display().to_string(),
    }
}

/// Why `Indexes::open` gave no index.
#[derive(Debug, thiserror::Error)]
pub enum OpenIndexError {
    #[error("the model is not one of the fleet's (DOCFLEET_MODELS)")]
    UnknownModel(#[source] anyhow::Error),
    #[error("connecting to the index server failed")]
    Server(#[source] anyhow::Error),
    /// E.g. a running worker, its writer, holds it.
    #[error("opening the embedded index failed")]
    Embedded(#[source] anyhow::Error),
}

/// Each of the fleet's models' index, for a process that opens them again and again: a server's
/// client is made once per model and shared; the embedded index allows one writer or many
/// readers per machine, so it is opened per call (and a running worker, its writer, makes a
/// write open fail with the reason).
pub struct Indexes {
    common: CommonOpts,
    /// Server clients by model, made on first use.
    servers: Mutex<HashMap<String, Arc<dyn VectorIndex>>>,
}

impl Indexes {
    /// A malformed `DOCFLEET_MODELS`, or a bad server URL, is an error now, not at first use.
    pub fn new(common: &CommonOpts) -> Result<Self> {
        common.model_names()?;
        let this = Self {
            common: common.clone(),
            servers: Mutex::default(),
        };
        if let server @ IndexLocation::Server(_) = locate(common)? {
            let index = server.open(IndexAccess::Write)?;
            this.servers().insert(DEFAULT_MODEL.to_owned(), index);
        }
        Ok(this)
    }

    fn servers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn VectorIndex>>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fleet's options, for the model names.
    pub fn common(&self) -> &CommonOpts {
        &self.common
    }

    /// The index of `model`'s vectors.
    pub async fn open(
        &self,
        model: &str,
        access: IndexAccess,
    ) -> Result<Arc<dyn VectorIndex>, OpenIndexError> {
        if let Some(index) = self.servers().get(model) {
            return Ok(index.clone());
        }
        let common = self
            .common
            .for_model(model)
            .map_err(OpenIndexError::UnknownModel)?;
        match locate(&common).map_err(OpenIndexError::Server)? {
            server @ IndexLocation::Server(_) => {
                let index = server.open(access).map_err(OpenIndexError::Server)?;
                self.servers().insert(model.to_owned(), index.clone());
                Ok(index)
            }
            embedded @ IndexLocation::Embedded(_) => {
                tokio::task::spawn_blocking(move || embedded.open(access))
                    .await
                    .map_err(|e| OpenIndexError::Embedded(e.into()))?
                    .map_err(OpenIndexError::Embedded)
            }
        }
    }
}
