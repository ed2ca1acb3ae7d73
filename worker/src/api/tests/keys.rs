//! `/v1/keys`: an admin key creates (the token shown once), lists (never secrets) and revokes its
//! own tenant's keys; another tenant's key id answers 404 and is left alone.

use serde_json::json;

use super::TestApi;

/// The key id of a `dfk_<key_id>_<secret>` token.
fn key_id(token: &str) -> &str {
    &token[4..16]
}

#[tokio::test]
async fn an_admin_creates_lists_and_revokes_its_tenants_keys() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    let made = api
        .post("/v1/keys", &admin, &json!({"label": "ci pipeline"}))
        .await
        .expect_json(201);
    let token = made["key"].as_str().unwrap().to_owned();
    assert_eq!(made["key_id"], key_id(&token));
    assert_eq!(
        (&made["tenant"], &made["label"], &made["role"]),
        (&json!("acme"), &json!("ci pipeline"), &json!("member")),
        "member unless asked"
    );
    assert!(made["created_at_ms"].as_i64().unwrap() > 0);
    api.get("/v1/jobs", &token).await.expect_json(200);
    let admin_made = api
        .post("/v1/keys", &admin, &json!({"role": "admin"}))
        .await
        .expect_json(201);
    let second = admin_made["key"].as_str().unwrap();
    api.get("/v1/keys", second).await.expect_json(200);

    let listed = api.get("/v1/keys", &admin).await;
    let text = listed.text();
    let keys = listed.expect_json(200)["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let created: Vec<i64> = keys
        .iter()
        .map(|k| k["created_at_ms"].as_i64().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {keys:?}"
    );
    assert!(keys.iter().all(|k| k["tenant"] == "acme"), "{keys:?}");
    assert!(
        !text.contains(&token[17..]) && !text.contains("secret"),
        "no secrets: {text}"
    );

    let revoked = api
        .delete(&format!("/v1/keys/{}", key_id(&token)), &admin)
        .await
        .expect_json(200);
    assert!(revoked["revoked_at_ms"].as_i64().is_some(), "{revoked}");
    api.get("/v1/jobs", &token).await.assert_problem(401);
    api.delete(&format!("/v1/keys/{}", key_id(&token)), &admin)
        .await
        .assert_problem(404);
    let after = api.get("/v1/keys", &admin).await.expect_json(200);
    assert_eq!(
        after["keys"].as_array().unwrap().len(),
        3,
        "revoked ones are listed"
    );
}

#[tokio::test]
async fn another_tenants_keys_are_out_of_reach() {
    let api = TestApi::new().await;
    let member = api.member("acme").await;
    let b_admin = api.admin("globex").await;
    api.delete(&format!("/v1/keys/{}", key_id(&member)), &b_admin)
        .await
        .assert_problem(404);
    api.get("/v1/jobs", &member).await.expect_json(200);
    let b_keys = api.get("/v1/keys", &b_admin).await.expect_json(200);
    let b_keys = b_keys["keys"].as_array().unwrap();
    assert_eq!(b_keys.len(), 1);
    assert_eq!(b_keys[0]["tenant"], "globex");
    for implausible in ["x".repeat(65), "a-b".to_owned(), "nope".to_owned()] {
        api.delete(&format!("/v1/keys/{implausible}"), &b_admin)
            .await
            .assert_problem(404);
    }
}

#[tokio::test]
async fn bad_key_requests_are_refused() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    for bad in [
        json!({"label": "x".repeat(201)}),
        json!({"label": "line\nbreak"}),
    ] {
        let detail = api.post("/v1/keys", &admin, &bad).await.assert_problem(400);
        assert!(detail.contains("label"), "{detail}");
    }
    for bad in [
        json!({"role": "owner"}),
        json!({"label": "x", "tenant": "globex"}),
    ] {
        api.post("/v1/keys", &admin, &bad).await.assert_problem(422);
    }
    let keys = api.get("/v1/keys", &admin).await.expect_json(200);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "none made");
}
