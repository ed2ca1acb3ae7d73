//! `GET/PUT /v1/profile`: an admin key's view and versions of its tenant's profile, validated
//! (JSON or TOML), the webhook secret never shown; a new version applies to the next submit.

use axum::body::Body;
use axum::http::Method;
use serde_json::json;

use super::{Answer, TestApi};

async fn put(api: &TestApi, key: &str, content_type: &str, body: impl Into<Body>) -> Answer {
    api.send_body(Method::PUT, "/v1/profile", Some(key), content_type, body)
        .await
}

#[tokio::test]
async fn profiles_are_versioned_per_tenant_and_shown_redacted() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    let b_admin = api.admin("globex").await;
    api.get("/v1/profile", &admin).await.assert_problem(404);

    let toml = "[sources]\nallowed_prefixes = [\"s3://inbox/acme/\"]\n\
                [webhook]\nsecret = \"acme-secret-0123456789\"\n";
    let stored = put(&api, &admin, "application/toml", toml)
        .await
        .expect_json(200);
    assert_eq!(stored, json!({"tenant": "acme", "version": 1}));
    let shown = api.get("/v1/profile", &admin).await;
    let text = shown.text();
    let shown = shown.expect_json(200);
    assert_eq!(
        (&shown["tenant"], &shown["version"]),
        (&json!("acme"), &json!(1))
    );
    assert_eq!(shown["created_by"], format!("key:{}", &admin[4..16]));
    assert_eq!(shown["profile"]["webhook"]["secret"], "***");
    assert!(!text.contains("acme-secret"), "{text}");
    assert_eq!(
        shown["profile"]["sources"]["allowed_prefixes"],
        json!(["s3://inbox/acme/"])
    );

    let next = put(&api, &admin, "application/json", r#"{"model": "default"}"#).await;
    assert_eq!(next.expect_json(200)["version"], 2);
    let shown = api.get("/v1/profile", &admin).await.expect_json(200);
    assert_eq!(
        shown["profile"],
        json!({"model": "default"}),
        "a whole new version"
    );

    // Tenant B neither sees nor changes A's.
    api.get("/v1/profile", &b_admin).await.assert_problem(404);
    let b = put(
        &api,
        &b_admin,
        "application/json",
        r#"{"chunk":{"max_tokens":99}}"#,
    )
    .await;
    assert_eq!(
        b.expect_json(200),
        json!({"tenant": "globex", "version": 1})
    );
    let a = api.get("/v1/profile", &admin).await.expect_json(200);
    assert_eq!(a["version"], 2);
}

#[tokio::test]
async fn invalid_profiles_are_refused_with_the_reason() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    let unknown = put(
        &api,
        &admin,
        "application/json",
        r#"{"chunk":{"max_tokens":100,"colour":1}}"#,
    )
    .await;
    assert!(unknown.assert_problem(422).contains("colour"));
    let model = put(&api, &admin, "application/json", r#"{"model":"nope"}"#).await;
    let detail = model.assert_problem(422);
    assert!(
        detail.contains("nope") && detail.contains("default"),
        "{detail}"
    );
    put(&api, &admin, "application/toml", "[chunk\nmax_tokens = 1")
        .await
        .assert_problem(422);
    put(&api, &admin, "application/json", "{not json")
        .await
        .assert_problem(422);
    put(&api, &admin, "text/plain", "{}")
        .await
        .assert_problem(415);
    put(&api, &admin, "application/json", vec![0xff, 0xfe, b'{'])
        .await
        .assert_problem(400);
    api.get("/v1/profile", &admin).await.assert_problem(404);
}

#[tokio::test]
async fn a_new_profile_applies_to_the_next_submit() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    let member = api.member("acme").await;
    let job = |source: &str| json!({"source": source});
    api.post("/v1/jobs", &member, &job("s3://inbox/globex/a.pdf"))
        .await
        .expect_json(202);
    let prefixes = r#"{"sources": {"allowed_prefixes": ["s3://inbox/acme/"]}}"#;
    put(&api, &admin, "application/json", prefixes)
        .await
        .expect_json(200);
    let refused = api
        .post("/v1/jobs", &member, &job("s3://inbox/globex/b.pdf"))
        .await;
    let detail = refused.assert_problem(403);
    assert!(detail.contains("allowed source prefixes"), "{detail}");
    let batch = json!({"uris": ["s3://inbox/acme/ok.pdf", "s3://inbox/globex/b.pdf"]});
    api.post("/v1/batches", &member, &batch)
        .await
        .assert_problem(403);
    api.post("/v1/jobs", &member, &job("s3://inbox/acme/a.pdf"))
        .await
        .expect_json(202);
}
