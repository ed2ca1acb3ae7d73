//! `docfleet api`: the job API over HTTP (axum), JSON in and out, errors as problem+json.
//!
//! - auth.rs: API key → tenant; every route under /v1 is scoped to the caller's tenant.
//! - audit.rs: the audit trail: every state-changing call and every search recorded (a
//!   middleware), and `GET /v1/audit`.
//! - keys.rs: `/v1/keys`, an admin key's management of its tenant's keys.
//! - request_id.rs: `X-Request-Id` on every request and response.
//! - jobs.rs: submit jobs and batches, read jobs (paged) and batch progress.
//! - problem.rs: RFC 9457 errors.
//! - profile.rs: `GET/PUT /v1/profile`, the tenant's profile (admin keys).
//! - upload.rs: multipart uploads, stored before their job is submitted.
//! - search.rs, documents.rs: search the caller's vectors; delete a document (points, artifacts).
//! - index.rs: the index and the model as the API opens them (through `crate::wiring`).
//! - source_policy.rs: which sources a tenant may submit (file://, the object store, prefixes).
//! - metrics.rs: `/metrics` (requests by route and status, latency).
//! - trace.rs: a span per request, continuing the caller's trace (`traceparent`).
//! - openapi.json: the contract, served at /openapi.json.

mod audit;
mod audit_log;
mod auth;
mod documents;
mod index;
mod jobs;
mod keys;
mod metrics;
mod problem;
mod profile;
mod request_id;
mod search;
mod source_policy;
mod trace;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use docfleet_jobstore::JobStore;
use docfleet_pipeline::store::ObjectStore;
use docfleet_queue::JobProducer;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::profile::ProfileCache;
use crate::settings::{ApiOpts, CommonOpts, QueueOpts, StoreOpts};
use crate::wiring;
use crate::worker_loop;

const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn JobStore>,
    pub producer: Option<Arc<dyn JobProducer>>,
    pub pepper: Arc<Vec<u8>>,
    /// Which sources a tenant may submit (file://, the object store, allowed prefixes).
    pub sources: Arc<source_policy::SourcePolicy>,
    /// For listing s3:// prefixes in batches.
    pub common: Arc<CommonOpts>,
    /// Where uploaded documents are stored before their job runs (the artifact store).
    pub objects: Arc<dyn ObjectStore>,
    /// Largest JSON body.
    pub max_body_bytes: usize,
    pub index: index::ApiIndex,
    pub embedder: index::LazyEmbedder,
    /// Tenant profiles (source prefixes at submit, the model of a search), cached for the TTL.
    pub profiles: Arc<ProfileCache>,
}

impl ApiState {
    /// The state the API serves with, on an open job store and producer (`None`: the job
    /// table is the queue).
    pub(crate) async fn new(
        common: &CommonOpts,
        opts: &ApiOpts,
        store: Arc<dyn JobStore>,
        producer: Option<Arc<dyn JobProducer>>,
    ) -> Result<Self> {
        Ok(ApiState {
            store: store.clone(),
            producer,
            pepper: Arc::new(opts.keys.pepper(common)?),
            sources: Arc::new(source_policy::SourcePolicy::new(
                opts.api_allow_file_sources,
                common.storage.object_store_url.as_deref(),
                &opts.api_source_prefixes,
            )?),
            common: Arc::new(common.clone()),
            objects: crate::wiring::open_object_store(common).await?,
            max_body_bytes: opts.api_max_body_bytes,
            index: index::ApiIndex::new(common)?,
            embedder: index::LazyEmbedder::default(),
            profiles: Arc::new(ProfileCache::new(
                store,
                Duration::from_secs(common.profile_ttl_secs),
            )),
        })
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<ApiState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(3), s.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("job store: {e}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "job store: no answer within 3 s\n".to_owned(),
        ),
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found() -> problem::Problem {
    problem::Problem::not_found("no such route; see /openapi.json")
}

/// `max_upload_bytes` bounds `POST /v1/jobs` (uploads); every other body, and JSON bodies
/// there too, stay within `state.max_body_bytes`.
pub fn router(state: ApiState, max_upload_bytes: usize) -> Router {
    let max_body_bytes = state.max_body_bytes;
    let m = metrics::ApiMetrics::new();
    let ops = Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(m.clone());
    let audit = audit::AuditLayer {
        store: state.store.clone(),
        write_failures: m.audit_write_failures.clone(),
    };
    Router::new()
        .route(
            "/v1/jobs",
            post(jobs::submit_job)
                .layer(DefaultBodyLimit::max(max_upload_bytes.max(max_body_bytes)))
                .get(jobs::list_jobs),
        )
        .route("/v1/jobs/{job_id}", get(jobs::get_job))
        .route("/v1/batches", post(jobs::submit_batch))
        .route("/v1/batches/{batch_id}", get(jobs::get_batch))
        .route("/v1/search", post(search::search))
        .route("/v1/documents/{doc_id}", delete(documents::delete_document))
        .route("/v1/keys", post(keys::create_key).get(keys::list_keys))
        .route("/v1/keys/{key_id}", delete(keys::revoke_key))
        .route("/v1/audit", get(audit_log::list_audit))
        .route(
            "/v1/profile",
            get(profile::get_profile).put(profile::put_profile),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(audit, audit::record))
        .with_state(state)
        .merge(ops)
        .layer(axum::middleware::from_fn_with_state(m, metrics::track))
        .layer(axum::middleware::from_fn(trace::span))
        // Outermost: every layer and handler sees the request id.
        .layer(axum::middleware::from_fn(request_id::layer))
}

/// Serves until SIGTERM/SIGINT.
pub async fn api(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    queue_opts: &QueueOpts,
    opts: &ApiOpts,
) -> Result<()> {
    let store = wiring::open_job_store(common, store_opts).await?;
    let producer = wiring::open_producer(queue_opts, common.storage.aws_region.as_deref()).await?;
    let state = ApiState::new(common, opts, store.clone(), producer).await?;
    let listener = tokio::net::TcpListener::bind(&opts.api_addr)
        .await
        .with_context(|| format!("binding the API to {}", opts.api_addr))?;
    let addr: SocketAddr = listener.local_addr()?;
    info!(%addr, queue = queue_opts.kind.as_str(), "API listening");
    eprintln!("docfleet API listening on http://{addr}");
    let shutdown = CancellationToken::new();
    worker_loop::cancel_on_signal(shutdown.clone())?;
    axum::serve(listener, router(state, opts.api_max_upload_bytes))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("serving the API")?;
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests;
