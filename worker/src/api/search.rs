//! `POST /v1/search`: hybrid (default), dense or keyword search of the caller's documents, with
//! filters, highlighted snippets and facet counts (the tenant filter is always applied; a body
//! cannot name another tenant).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use std::collections::BTreeMap;

use docfleet_models::Embedder;
use docfleet_pipeline::index::{Facets, Fusion, SearchMode};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::audit::AuditSlot;
use super::auth::Caller;
use super::documents::check_doc_id;
use super::index::index_problem;
use super::problem::{Problem, rejection};
use crate::commands::search::{FilterSpec, HitView, filter, view};
use crate::settings::DEFAULT_MODEL;
use crate::wiring::IndexAccess;

const MAX_TOP_K: usize = 100;
const MAX_QUERY_CHARS: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    query: String,
    #[serde(default, deserialize_with = "docfleet_core::job::whole_number")]
    top_k: Option<usize>,
    /// `hybrid` (default), `dense` or `keyword`.
    #[serde(default)]
    mode: SearchMode,
    /// Weights of the two rankings in hybrid fusion (default 1 each).
    #[serde(default)]
    weights: Option<Weights>,
    #[serde(default)]
    filter: SearchFilter,
    /// Also return facet counts of the documents in scope.
    #[serde(default)]
    facets: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    dense: f32,
    keyword: f32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFilter {
    /// Only this document's chunks.
    doc_id: Option<String>,
    source_prefix: Option<String>,
    #[serde(default)]
    media_types: Vec<String>,
    pages: Option<PageRange>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRange {
    first: u32,
    last: u32,
}

#[derive(Debug, Serialize)]
pub struct SearchResults<'a> {
    results: Vec<HitView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facets: Option<Facets>,
}

pub async fn search(
    State(s): State<ApiState>,
    caller: Caller,
    audit: AuditSlot,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let Json(req) = body.map_err(rejection)?;
    // The audit record says how it searched, never what (the query may hold personal data).
    audit.detail(
        serde_json::json!({"mode": req.mode, "top_k": req.top_k.unwrap_or(10)}).to_string(),
    );
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
    let mut fusion = Fusion::default();
    if let Some(w) = &req.weights {
        let ok = |x: f32| x.is_finite() && (0.0..=100.0).contains(&x);
        if !ok(w.dense) || !ok(w.keyword) || w.dense + w.keyword <= 0.0 {
            return Err(Problem::bad_request(
                "weights must be 0-100 each, not both 0".to_owned(),
            ));
        }
        (fusion.dense_weight, fusion.keyword_weight) = (w.dense, w.keyword);
    }
    let f = req.filter;
    let spec = FilterSpec {
        doc_id: f.doc_id,
        source_prefix: f.source_prefix,
        media_types: f.media_types,
        pages: f.pages.map(|p| (p.first, p.last)),
        tags: f.tags,
    };
    // The tenant's model: its vectors live apart from every other model's.
    let profile = super::profile::current(&s, &caller.tenant).await?;
    let model = profile
        .as_ref()
        .and_then(|a| a.profile.model.clone())
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let filter = filter(caller.tenant, spec).map_err(|e| Problem::bad_request(e.0))?;
    // The query's vector, unless the mode does not use one.
    let vector = match req.mode {
        SearchMode::Keyword => Vec::new(),
        SearchMode::Dense | SearchMode::Hybrid => {
            let embedder = s.embedder.get(&s.common, &model).await?;
            let text = query.clone();
            tokio::task::spawn_blocking(move || embedder.embed(&[&text]))
                .await
                .map_err(|e| Problem::unavailable("embedding the query failed", e))?
                .map_err(|e| Problem::unavailable("embedding the query failed", e))?
                .remove(0)
        }
    };
    let index = s.index.open(IndexAccess::Read, &model).await?;
    let request = docfleet_pipeline::search::SearchRequest {
        text: query.clone(),
        mode: req.mode,
        filter,
        top_k,
        fusion,
    };
    let failed =
        |e: docfleet_pipeline::Error| index_problem("searching failed", &anyhow::Error::from(e));
    let hits = docfleet_pipeline::search::search(index.as_ref(), |_| Ok(vector), &request)
        .await
        .map_err(failed)?;
    let facets = match req.facets {
        true => Some(index.facets(&request.filter, 10).await.map_err(failed)?),
        false => None,
    };
    let results = SearchResults {
        results: hits
            .iter()
            .enumerate()
            .map(|(i, h)| view(i + 1, h, &query))
            .collect(),
        facets,
    };
    // Serialised here: the views borrow from `hits`.
    serde_json::to_value(&results)
        .map(Json)
        .map_err(|e| Problem::unavailable("encoding the results failed", e))
}
