//! The vector index and the model as the API uses them (search, delete).
//!
//! A Qdrant server is one shared client per model (each model's collection). The embedded index
//! allows one writer or many readers per machine, so the API opens it per request and a running
//! worker (its writer) makes those requests answer 503 with the reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use docfleet_models::BertEmbedder;
use docfleet_pipeline::index::VectorIndex;
use tokio::sync::OnceCell;

use super::problem::Problem;
use crate::settings::{CommonOpts, DEFAULT_MODEL};
use crate::wiring::{self, IndexAccess};

/// The index of each of the fleet's models (`default` and `DOCFLEET_MODELS`): a search reads the
/// caller's tenant's model's, a delete every model's.
#[derive(Clone)]
pub struct ApiIndex {
    common: Arc<CommonOpts>,
    /// Qdrant clients by model, made on first use (the embedded index is opened per request).
    qdrant: Arc<Mutex<HashMap<String, Arc<dyn VectorIndex>>>>,
}

impl ApiIndex {
    pub fn new(common: &CommonOpts) -> anyhow::Result<Self> {
        // A malformed DOCFLEET_MODELS is a start-up error, not the first search's.
        common.model_names()?;
        let this = Self {
            common: Arc::new(common.clone()),
            qdrant: Arc::default(),
        };
        if common.index.qdrant_url.is_some() {
            // A bad Qdrant URL is a start-up error, as before models had their own collections.
            let index = wiring::open_index(common, IndexAccess::Write)?;
            this.clients().insert(DEFAULT_MODEL.to_owned(), index);
        }
        Ok(this)
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn VectorIndex>>> {
        self.qdrant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fleet's models that may hold vectors (`CommonOpts::indexed_models`).
    pub fn indexed_models(&self) -> Result<Vec<String>, Problem> {
        self.common.indexed_models().map_err(|e| {
            Problem::unavailable("reading the fleet's models failed", format!("{e:#}"))
        })
    }

    /// The index of `model`'s vectors.
    pub async fn open(
        &self,
        access: IndexAccess,
        model: &str,
    ) -> Result<Arc<dyn VectorIndex>, Problem> {
        let common = self.common.for_model(model).map_err(|e| {
            Problem::unavailable("the tenant's model is not configured", format!("{e:#}"))
        })?;
        if common.index.qdrant_url.is_some() {
            if let Some(index) = self.clients().get(model) {
                return Ok(index.clone());
            }
            let index = wiring::open_index(&common, IndexAccess::Write)
                .map_err(|e| index_problem("connecting to Qdrant failed", &e))?;
            self.clients().insert(model.to_owned(), index.clone());
            return Ok(index);
        }
        tokio::task::spawn_blocking(move || wiring::open_index(&common, access))
            .await
            .map_err(|e| Problem::unavailable("opening the index failed", e))?
            .map_err(|e| index_problem("opening the index failed", &e))
    }
}

/// An index failure as a problem: the embedded index being busy says why and what to do.
pub fn index_problem(what: &str, e: &anyhow::Error) -> Problem {
    let in_use = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<docfleet_pipeline::Error>(),
            Some(docfleet_pipeline::Error::IndexInUse { .. })
        )
    });
    if in_use {
        return Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the embedded index is in use by a running worker: search and delete work while no \
             worker runs, or use a Qdrant server (DOCFLEET_QDRANT_URL) for live search",
        );
    }
    Problem::unavailable(what, format!("{e:#}"))
}

/// The models, each loaded on the first search that needs it (an API that only takes jobs never
/// loads one).
#[derive(Clone, Default)]
pub struct LazyEmbedder(Arc<Mutex<HashMap<String, ModelCell>>>);

/// One model, loaded once.
type ModelCell = Arc<OnceCell<Arc<BertEmbedder>>>;

impl LazyEmbedder {
    pub async fn get(
        &self,
        common: &Arc<CommonOpts>,
        model: &str,
    ) -> Result<Arc<BertEmbedder>, Problem> {
        let cell = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(model.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let common = common.for_model(model)?;
            tokio::task::spawn_blocking(move || wiring::load_embedder(&common, 4096))
                .await
                .map_err(anyhow::Error::from)?
        })
        .await
        .cloned()
        .map_err(|e| {
            Problem::unavailable(
                "search is unavailable: loading the model failed",
                format!("{e:#}"),
            )
        })
    }
}
