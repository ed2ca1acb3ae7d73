//! The API in process: the real router and state on a temporary data dir (a SQLite job store,
//! the job table as the queue, the local object store), driven with `tower::ServiceExt::oneshot`:
//! no listener, no worker, no model. What needs those is tested end to end (tests/api_*_e2e.rs).
//!
//! - routes.rs: the routes against openapi.json, health, the fallback, request ids.
//! - auth.rs: keys (missing, unknown, revoked, member vs admin).
//! - jobs.rs, batches.rs: submitting and reading jobs and batches, their validation, paging.
//! - uploads.rs: multipart submits into the object store.
//! - search.rs: search and delete requests refused before the index or the model is touched.
//! - keys.rs, profile.rs, audit.rs: the admin routes.

mod audit;
mod auth;
mod batches;
mod jobs;
mod keys;
mod profile;
mod routes;
mod search;
mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use clap::Parser;
use docfleet_jobstore::{JobStore, KeyRole, now_ms};
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiState, router};
use crate::cli::{Cli, Command};

/// A well-formed key that was never issued.
const UNKNOWN_KEY: &str =
    "dfk_000000000000_0000000000000000000000000000000000000000000000000000000000000000";

/// The API on a data dir of its own.
pub(super) struct TestApi {
    router: Router,
    store: Arc<dyn JobStore>,
    pepper: Arc<Vec<u8>>,
    dir: tempfile::TempDir,
}

impl TestApi {
    /// With the defaults of `docfleet api`.
    async fn new() -> TestApi {
        Self::with_flags(&[]).await
    }

    /// With these flags of `docfleet api` (`--api-allow-file-sources`, …).
    async fn with_flags(flags: &[&str]) -> TestApi {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap().to_owned();
        let args = ["docfleet", "--data-dir", &data_dir, "api"];
        let cli = Cli::try_parse_from(args.iter().chain(flags)).unwrap();
        let Command::Api { api: opts, .. } = cli.command else {
            unreachable!("parsed the api command")
        };
        let store_path = dir.path().join("jobs.sqlite");
        let store = docfleet_jobstore::connect(store_path.to_str().unwrap())
            .await
            .unwrap();
        let state = ApiState::new(&cli.common, &opts, store.clone(), None)
            .await
            .unwrap();
        TestApi {
            pepper: state.pepper.clone(),
            router: router(state, opts.api_max_upload_bytes),
            store,
            dir,
        }
    }

    fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A new key of `tenant` (created if need be), as the CLI makes them.
    async fn key(&self, tenant: &str, role: KeyRole) -> String {
        let tenants = self.store.tenants();
        tenants.create_tenant(tenant, now_ms()).await.unwrap();
        let key = crate::auth::new_key(&self.pepper, tenant, "test", role, now_ms());
        assert!(tenants.add_key(&key.record).await.unwrap());
        key.token
    }

    async fn member(&self, tenant: &str) -> String {
        self.key(tenant, KeyRole::Member).await
    }

    async fn admin(&self, tenant: &str) -> String {
        self.key(tenant, KeyRole::Admin).await
    }

    /// One request through the router; any status is an answer.
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, key: &str) -> Answer {
        self.send(
            request(Method::GET, path, Some(key))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn get_without_key(&self, path: &str) -> Answer {
        self.send(
            request(Method::GET, path, None)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A request with a body of this content type, and a key when one is given.
    async fn send_body(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Answer {
        let request = request(method, path, key)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    async fn json(&self, method: Method, path: &str, key: Option<&str>, body: &Value) -> Answer {
        self.send_body(method, path, key, "application/json", body.to_string())
            .await
    }

    async fn post(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.json(Method::POST, path, Some(key), body).await
    }

    /// `post` with one more header (`Idempotency-Key`, `X-Request-Id`).
    async fn post_with(
        &self,
        path: &str,
        key: &str,
        (name, value): (&str, &str),
        body: &Value,
    ) -> Answer {
        let request = request(Method::POST, path, Some(key))
            .header(header::CONTENT_TYPE, "application/json")
            .header(name, value)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn delete(&self, path: &str, key: &str) -> Answer {
        let request = request(Method::DELETE, path, Some(key));
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

/// A request to `path`, with `Authorization: Bearer <key>` when a key is given.
fn request(method: Method, path: &str, key: Option<&str>) -> axum::http::request::Builder {
    let builder = Request::builder().method(method).uri(path);
    match key {
        Some(key) => builder.header(header::AUTHORIZATION, format!("Bearer {key}")),
        None => builder,
    }
}

/// A response, read whole.
pub(super) struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// This status, and a 2xx answer's JSON body.
    fn expect_json(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        self.json()
    }

    /// A problem+json answer with this status; returns its detail.
    fn assert_problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let p = self.json();
        assert_eq!(p["status"], status, "{p}");
        assert_eq!(p["type"], "about:blank", "{p}");
        assert_eq!(
            p["title"].as_str(),
            StatusCode::from_u16(status).unwrap().canonical_reason(),
            "{p}"
        );
        let detail = p["detail"].as_str().unwrap().to_owned();
        assert!(!detail.is_empty(), "{p}");
        detail
    }
}
