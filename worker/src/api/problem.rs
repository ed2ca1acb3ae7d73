//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// A dependency failed: logged in full, the client gets a short reason.
    pub fn unavailable(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "{what}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what}; try again later"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

/// Axum's own rejections (bad JSON, wrong content type, body too large, bad path or query) as
/// problems with the same status and axum's explanation as the detail.
pub fn rejection(r: impl IntoResponse + std::fmt::Display) -> Problem {
    let detail = r.to_string();
    let status = r.into_response().status();
    Problem::new(status, detail)
}
