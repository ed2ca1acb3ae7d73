//! Keys: a missing, malformed, unknown, wrong or revoked key is 401 (with no hint which); a
//! member key is 403 on the admin routes.

use axum::body::Body;
use axum::http::Method;
use docfleet_jobstore::now_ms;
use serde_json::json;

use super::{TestApi, UNKNOWN_KEY, request};

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let api = TestApi::new().await;
    let key = api.member("acme").await;
    let no_key = api.get_without_key("/v1/jobs").await;
    let detail = no_key.assert_problem(401);
    assert!(detail.contains("Authorization: Bearer"), "{detail}");

    // The right key id with another secret.
    let wrong_secret = format!("{}_{}", &key[..16], "0".repeat(64));
    for bad in ["hello", "dfk_short_secret", UNKNOWN_KEY, &wrong_secret] {
        let answer = api.get("/v1/jobs", bad).await;
        assert_eq!(
            answer.assert_problem(401),
            detail,
            "the same answer for {bad}"
        );
    }
    api.get("/v1/jobs", &key).await.expect_json(200);
}

#[tokio::test]
async fn a_revoked_key_is_401_at_once() {
    let api = TestApi::new().await;
    let key = api.member("acme").await;
    api.get("/v1/jobs", &key).await.expect_json(200);
    let key_id = &key[4..16];
    assert!(
        api.store
            .tenants()
            .revoke_key(key_id, now_ms())
            .await
            .unwrap()
    );
    api.get("/v1/jobs", &key).await.assert_problem(401);
}

#[tokio::test]
async fn the_key_may_come_as_x_api_key() {
    let api = TestApi::new().await;
    let key = api.member("acme").await;
    let answer = api
        .send(
            request(Method::GET, "/v1/jobs", None)
                .header("x-api-key", &key)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.expect_json(200)["jobs"], json!([]));
}

#[tokio::test]
async fn member_keys_are_403_on_the_admin_routes() {
    let api = TestApi::new().await;
    let member = api.member("acme").await;
    let admin = api.admin("acme").await;
    for path in ["/v1/keys", "/v1/audit", "/v1/profile"] {
        let detail = api.get(path, &member).await.assert_problem(403);
        assert!(detail.contains("admin key"), "{path}: {detail}");
    }
    api.post("/v1/keys", &member, &json!({"role": "admin"}))
        .await
        .assert_problem(403);
    api.json(Method::PUT, "/v1/profile", Some(&member), &json!({}))
        .await
        .assert_problem(403);
    api.delete(&format!("/v1/keys/{}", &admin[4..16]), &member)
        .await
        .assert_problem(403);
    // The admin key reaches them, and the tenant's data routes as well.
    api.get("/v1/keys", &admin).await.expect_json(200);
    api.get("/v1/audit", &admin).await.expect_json(200);
    api.get("/v1/jobs", &admin).await.expect_json(200);
}
