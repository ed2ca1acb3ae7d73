//! A span per request (`http.request`, OpenTelemetry's HTTP server conventions), continuing the
//! caller's trace when it sends `traceparent`. The jobs a request submits carry this span's
//! context, so the worker's spans join the same trace. The span names the request id
//! (`http.request.id`, from request_id.rs, the layer outside this one).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::request_id::RequestId;
use crate::telemetry;

pub async fn span(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or("", RequestId::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        otel.name = format!("{method} {route}"),
        http.request.method = %method,
        http.route = %route,
        http.request.id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    telemetry::set_parent(&span, &telemetry::from_headers(req.headers()));
    let response = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
