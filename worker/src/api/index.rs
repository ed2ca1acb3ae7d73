//! The vector index and the model as the API uses them (search, delete).
//!
//! A Qdrant server is one shared client. The embedded index allows one writer or many readers per
//! machine, so the API opens it per request and a running worker (its writer) makes those
//! requests answer 503 with the reason.

use std::sync::Arc;

use docfleet_models::BertEmbedder;
use docfleet_pipeline::index::VectorIndex;
use tokio::sync::OnceCell;

use super::problem::Problem;
use crate::app::{self, IndexAccess};
use crate::settings::CommonOpts;

#[derive(Clone)]
pub enum ApiIndex {
    Shared(Arc<dyn VectorIndex>),
    Embedded(Arc<CommonOpts>),
}

impl ApiIndex {
    pub fn new(common: &CommonOpts) -> anyhow::Result<Self> {
        Ok(if common.index.qdrant_url.is_some() {
            Self::Shared(app::open_index(common, IndexAccess::Write)?)
        } else {
            Self::Embedded(Arc::new(common.clone()))
        })
    }

    pub async fn open(&self, access: IndexAccess) -> Result<Arc<dyn VectorIndex>, Problem> {
        match self {
            Self::Shared(index) => Ok(index.clone()),
            Self::Embedded(common) => {
                let common = common.clone();
                tokio::task::spawn_blocking(move || app::open_index(&common, access))
                    .await
                    .map_err(|e| Problem::unavailable("opening the index failed", e))?
                    .map_err(|e| index_problem("opening the index failed", &e))
            }
        }
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

/// The model, loaded on the first search (an API that only takes jobs never loads it).
#[derive(Clone, Default)]
pub struct LazyEmbedder(Arc<OnceCell<Arc<BertEmbedder>>>);

impl LazyEmbedder {
    pub async fn get(&self, common: &Arc<CommonOpts>) -> Result<Arc<BertEmbedder>, Problem> {
        self.0
            .get_or_try_init(|| async {
                let common = common.clone();
                tokio::task::spawn_blocking(move || app::load_embedder(&common, 4096))
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
