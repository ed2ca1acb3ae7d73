//! `POST /v1/search`: embeds the query and returns the best chunks of the caller's documents
//! (the tenant filter is always applied; a body cannot name another tenant).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use docfleet_models::Embedder;
use docfleet_pipeline::index::Filter;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Caller;
use super::documents::check_doc_id;
use super::index::index_problem;
use super::problem::{Problem, rejection};
use crate::app::IndexAccess;
use crate::commands::search::{HitView, view};

const MAX_TOP_K: usize = 100;
const MAX_QUERY_CHARS: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    query: String,
    #[serde(default, deserialize_with = "docfleet_pipeline::job::whole_number")]
    top_k: Option<usize>,
    #[serde(default)]
    filter: SearchFilter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFilter {
    /// Only this document's chunks.
    doc_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchResults<'a> {
    results: Vec<HitView<'a>>,
}

pub async fn search(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let Json(req) = body.map_err(rejection)?;
    let query = req.query.trim().to_owned();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(Problem::bad_request(format!(
            "query must be 1-{MAX_QUERY_CHARS} characters (not only spaces)"
        )));
    }
    let top_k = req.top_k.unwrap_or(10);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(Problem::bad_request(format!("top_k must be 1-{MAX_TOP_K}")));
    }
    if let Some(doc_id) = &req.filter.doc_id {
        check_doc_id(doc_id)?;
    }
    let embedder = s.embedder.get(&s.common).await?;
    let vector = tokio::task::spawn_blocking(move || embedder.embed(&[&query]))
        .await
        .map_err(|e| Problem::unavailable("embedding the query failed", e))?
        .map_err(|e| Problem::unavailable("embedding the query failed", e))?
        .remove(0);
    let index = s.index.open(IndexAccess::Read).await?;
    let filter = Filter {
        tenant: caller.tenant,
        doc_id: req.filter.doc_id,
    };
    let hits = index
        .search(&vector, &filter, top_k)
        .await
        .map_err(|e| index_problem("searching failed", &anyhow::Error::from(e)))?;
    let results = SearchResults {
        results: hits
            .iter()
            .enumerate()
            .map(|(i, h)| view(i + 1, h))
            .collect(),
    };
    // Serialised here: the views borrow from `hits`.
    serde_json::to_value(&results)
        .map(Json)
        .map_err(|e| Problem::unavailable("encoding the results failed", e))
}
