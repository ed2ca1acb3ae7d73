//! The worker's operations endpoints: `/healthz` (the process serves), `/readyz` (the job store
//! and the queue answer, and the worker is not draining) and `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use docfleet_jobstore::JobStore;
use docfleet_queue::JobQueue;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

/// A dependency that does not answer within this is "not ready".
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct OpsState {
    pub store: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when shutdown begins: a draining worker is not ready for more work.
    pub draining: CancellationToken,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<OpsState>) -> impl IntoResponse {
    if s.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned());
    }
    let store = tokio::time::timeout(CHECK_TIMEOUT, s.store.ping()).await;
    let queue = tokio::time::timeout(CHECK_TIMEOUT, s.queue.depth()).await;
    let mut problems = Vec::new();
    match store {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("job store: {e}")),
        Err(_) => problems.push("job store: no answer within 3 s".to_owned()),
    }
    match queue {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => problems.push(format!("queue: {e}")),
        Err(_) => problems.push("queue: no answer within 3 s".to_owned()),
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n")
    }
}

async fn metrics(State(s): State<OpsState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr` and serves until `stop` is cancelled; returns the bound address (port 0 picks
/// one) and the server task.
pub async fn serve(
    addr: &str,
    state: OpsState,
    stop: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the ops endpoints to {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "ops endpoints stopped");
        }
    });
    Ok((bound, task))
}
