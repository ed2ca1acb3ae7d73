//! The vector index and the model as the API uses them (search, delete).
//!
//! They are opened by `wiring::Indexes` (a Qdrant server's client shared per model, the embedded
//! index per request); here its failures become problems: a running worker holding the
//! embedded index makes search and delete answer 503 with the reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use docfleet_models::BertEmbedder;
use docfleet_pipeline::index::VectorIndex;
use tokio::sync::OnceCell;

use super::problem::Problem;
use crate::settings::CommonOpts;
use crate::wiring::{self, IndexAccess, Indexes, OpenIndexError};

/// The index of each of the fleet's models (`default` and `DOCFLEET_MODELS`): a search reads the
/// caller's tenant's model's, a delete every model's.
#[derive(Clone)]
pub struct ApiIndex(Arc<Indexes>);

impl ApiIndex {
    /// A malformed DOCFLEET_MODELS or a bad Qdrant URL is a start-up error, not the first search's.
    pub fn new(common: &CommonOpts) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Indexes::new(common)?)))
    }

    /// The fleet's models that may hold vectors (`CommonOpts::indexed_models`).
    pub fn indexed_models(&self) -> Result<Vec<String>, Problem> {
        self.0.common().indexed_models().map_err(|e| {
            Problem::unavailable("reading the fleet's models failed", format!("{e:#}"))
        })
    }

    /// The index of `model`'s vectors.
    pub async fn open(
        &self,
        access: IndexAccess,
        model: &str,
    ) -> Result<Arc<dyn VectorIndex>, Problem> {
        self.0.open(model, access).await.map_err(|e| match &e {
            OpenIndexError::UnknownModel(cause) => {
                Problem::unavailable("the tenant's model is not configured", format!("{cause:#}"))
            }
            OpenIndexError::Server(cause) => index_problem("connecting to Qdrant failed", cause),
            OpenIndexError::Embedded(cause) => index_problem("opening the index failed", cause),
        })
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
