//! The routes: every one documented in openapi.json and the other way round, the audited ones
//! among them; health, the contract and the fallback served; request ids echoed.

use axum::body::Body;
use axum::http::Method;

use super::{TestApi, request};

/// The route templates registered in `router` (read from api/mod.rs's source).
fn routes() -> Vec<String> {
    let source = include_str!("../mod.rs");
    // The code above `mod tests`.
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('"')?;
            rest.split_once('"').map(|(path, _)| path.to_owned())
        })
        .collect()
}

#[test]
fn every_route_is_in_the_openapi_document() {
    let spec: serde_json::Value = serde_json::from_str(crate::api::OPENAPI).unwrap();
    let routes = routes();
    for path in ["/v1/jobs", "/v1/keys/{key_id}", "/v1/audit", "/metrics"] {
        assert!(
            routes.iter().any(|r| r == path),
            "{path} not found: {routes:?}"
        );
    }
    for path in &routes {
        assert!(
            spec["paths"][path].is_object(),
            "{path} is routed but missing from openapi.json"
        );
    }
    let documented: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    for path in documented {
        assert!(
            routes.contains(path),
            "{path} is in openapi.json but not routed"
        );
    }
}

#[test]
fn audited_routes_are_routed_and_documented() {
    let spec: serde_json::Value = serde_json::from_str(crate::api::OPENAPI).unwrap();
    let routes = routes();
    for &(method, path, action) in crate::api::audit::AUDITED {
        assert!(
            routes.iter().any(|r| r == path),
            "{action}: {path} not routed"
        );
        assert!(
            spec["paths"][path][method.to_lowercase()].is_object(),
            "{action}: {method} {path} missing from openapi.json"
        );
    }
    let request_id = &spec["components"]["headers"]["X-Request-Id"];
    assert!(
        request_id.is_object(),
        "the X-Request-Id header is documented"
    );
}

#[tokio::test]
async fn health_contract_and_metrics_need_no_key() {
    let api = TestApi::new().await;
    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let answer = api.get_without_key(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.text(), body, "{path}");
    }
    let spec = api.get_without_key("/openapi.json").await;
    assert_eq!(spec.header("content-type"), Some("application/json"));
    assert!(spec.expect_json(200)["paths"]["/v1/jobs"].is_object());
    // The metrics see the requests before them, by route template and status.
    let metrics = api.get_without_key("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text()
            .contains(r#"docfleet_api_requests_total{route="/readyz",method="GET",status="200"}"#),
        "{}",
        metrics.text()
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_404() {
    let api = TestApi::new().await;
    let key = api.member("acme").await;
    let detail = api.get("/v1/nothing-here", &key).await.assert_problem(404);
    assert!(detail.contains("/openapi.json"), "{detail}");
    let anonymous = api.get_without_key("/nothing").await;
    anonymous.assert_problem(404);
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_made_otherwise() {
    let api = TestApi::new().await;
    let with_id = |id: &str| {
        request(Method::GET, "/healthz", None)
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let kept = api.send(with_id("req-42/a")).await;
    assert_eq!(kept.header("x-request-id"), Some("req-42/a"));
    for insane in ["two words", &"a".repeat(129)] {
        let replaced = api.send(with_id(insane)).await;
        let id = replaced.header("x-request-id").unwrap();
        assert_eq!(
            uuid::Uuid::parse_str(id).unwrap().get_version_num(),
            4,
            "{id}"
        );
    }
    // Problems carry one too.
    let key = api.member("acme").await;
    let problem = api.get("/v1/jobs/not-a-uuid", &key).await;
    problem.assert_problem(400);
    assert!(problem.header("x-request-id").is_some());
}
