//! `POST /v1/batches` and `GET /v1/batches/{id}`: a batch's jobs, its progress, idempotency, and
//! what is refused before any of its jobs is made.

use axum::http::Method;
use serde_json::{Value, json};

use super::TestApi;

async fn open_api() -> TestApi {
    TestApi::with_flags(&["--api-allow-file-sources"]).await
}

fn uris(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("file:///docs/{n}")).collect()
}

#[tokio::test]
async fn a_batch_makes_one_job_per_uri_and_reports_its_progress() {
    let api = open_api().await;
    let (a, b) = (api.member("acme").await, api.member("globex").await);
    let body = json!({"uris": uris(&["a.pdf", "b.md", "c.html"]),
                      "callback_url": "https://hooks.example/done"});
    let accepted = api.post("/v1/batches", &a, &body).await;
    let batch = accepted.expect_json(202);
    let batch_id = batch["batch_id"].as_str().unwrap();
    let status_url = format!("/v1/batches/{batch_id}");
    assert_eq!(batch["status_url"], status_url);
    assert_eq!(accepted.header("location"), Some(status_url.as_str()));
    let jobs = batch["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["state"] == "queued"), "{batch}");

    let progress = api.get(&status_url, &a).await.expect_json(200);
    assert_eq!(
        progress,
        json!({"batch_id": batch_id, "total": 3, "queued": 3, "running": 0, "succeeded": 0,
               "failed": 0, "dead": 0}),
        "no eta before a job has finished"
    );
    let listed = api
        .get(&format!("/v1/jobs?batch={batch_id}"), &a)
        .await
        .expect_json(200);
    let listed = listed["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|j| j["options"]["batch_callback_url"] == "https://hooks.example/done"),
        "the batch's callback travels with each job: {listed:?}"
    );

    // Another tenant's batch answers as a missing one.
    api.get(&status_url, &b).await.assert_problem(404);
    let missing = format!("/v1/batches/{}", uuid::Uuid::new_v4());
    api.get(&missing, &a).await.assert_problem(404);
    api.get("/v1/batches/not-a-uuid", &a)
        .await
        .assert_problem(400);
    let theirs = api
        .get(&format!("/v1/jobs?batch={batch_id}"), &b)
        .await
        .expect_json(200);
    assert_eq!(theirs["jobs"], json!([]));
}

#[tokio::test]
async fn an_idempotent_batch_replays_its_ids() {
    let api = open_api().await;
    let a = api.member("acme").await;
    let body = json!({"uris": uris(&["a.pdf", "b.pdf"])});
    let key = ("idempotency-key", "nightly-2024-06-01");
    let first = api
        .post_with("/v1/batches", &a, key, &body)
        .await
        .expect_json(202);
    let again = api
        .post_with("/v1/batches", &a, key, &body)
        .await
        .expect_json(202);
    assert_eq!(first, again, "same batch id, same job ids");
    let all = api.get("/v1/jobs", &a).await.expect_json(200);
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_batches_are_refused_whole() {
    let api = open_api().await;
    let a = api.member("acme").await;
    let too_many: Vec<String> = (0..10_001).map(|i| format!("file:///d/{i}")).collect();
    for bad in [
        json!({"uris": []}),
        json!({}),
        json!({"prefix": "file:///docs/"}),
        json!({"uris": uris(&["a.pdf"]), "callback_url": "ftp://hooks.example"}),
        json!({"uris": uris(&["a.pdf"]),
               "options": {"batch_callback_url": "https://hooks.example/b"}}),
        // One bad source refuses the whole batch: no job is made for the good one.
        json!({"uris": ["file:///docs/good.pdf", "http://example.com/bad.pdf"]}),
        json!({"uris": too_many}),
    ] {
        api.post("/v1/batches", &a, &bad).await.assert_problem(400);
    }
    for bad in [
        json!({"uris": uris(&["a.pdf"]), "extra": true}),
        json!({"uris": "file:///docs/a.pdf"}),
    ] {
        api.post("/v1/batches", &a, &bad).await.assert_problem(422);
    }
    api.send_body(
        Method::POST,
        "/v1/batches",
        Some(&a),
        "application/json",
        "{\"uris\": [",
    )
    .await
    .assert_problem(400);
    let jobs: Value = api.get("/v1/jobs", &a).await.expect_json(200);
    assert_eq!(jobs["jobs"], json!([]), "nothing was submitted");
}
