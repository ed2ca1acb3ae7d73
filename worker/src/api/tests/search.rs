//! `POST /v1/search` and `DELETE /v1/documents/{id}`: requests refused before the index or the
//! model is touched (what needs them: tests/api_search_e2e.rs).

use axum::body::Body;
use axum::http::Method;
use serde_json::json;

use super::{TestApi, request};

#[tokio::test]
async fn bad_searches_are_refused_before_the_index_is_opened() {
    let api = TestApi::new().await;
    let a = api.member("acme").await;
    for bad in [
        json!({"query": "  "}),
        json!({"query": "x".repeat(4097)}),
        json!({"query": "x", "top_k": 0}),
        json!({"query": "x", "top_k": 101}),
        json!({"query": "x", "filter": {"doc_id": "not-hex"}}),
        json!({"query": "x", "filter": {"pages": {"first": 5, "last": 2}}}),
        json!({"query": "x", "filter": {"source_prefix": "s3://no-slash"}}),
        json!({"query": "x", "weights": {"dense": 0, "keyword": 0}}),
        json!({"query": "x", "weights": {"dense": 101, "keyword": 1}}),
        json!({"query": "x", "weights": {"dense": -1, "keyword": 1}}),
    ] {
        api.post("/v1/search", &a, &bad).await.assert_problem(400);
    }
    for bad in [
        json!({"query": "x", "mode": "fuzzy"}),
        json!({"query": "x", "top_k": 1.5}),
        json!({"query": "x", "filter": {"tenant": "globex"}}),
        json!({"query": "x", "weights": {"dense": 1}}),
        json!({"top_k": 3}),
    ] {
        api.post("/v1/search", &a, &bad).await.assert_problem(422);
    }
    api.send_body(
        Method::POST,
        "/v1/search",
        Some(&a),
        "application/json",
        "{\"query\":",
    )
    .await
    .assert_problem(400);
    let no_content_type = request(Method::POST, "/v1/search", Some(&a))
        .body(Body::from(json!({"query": "x"}).to_string()))
        .unwrap();
    api.send(no_content_type).await.assert_problem(415);
}

#[tokio::test]
async fn a_doc_id_must_look_like_one() {
    let api = TestApi::new().await;
    let a = api.member("acme").await;
    for bad in [
        "not-hex",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef",
    ] {
        let detail = api
            .delete(&format!("/v1/documents/{bad}"), &a)
            .await
            .assert_problem(400);
        assert!(
            detail.contains("32 lowercase hex digits"),
            "{bad}: {detail}"
        );
    }
}
