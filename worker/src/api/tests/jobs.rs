//! `POST /v1/jobs` (JSON) and `GET /v1/jobs[/{id}]`: accepted jobs, idempotency, what is
//! refused before a job is made, paging, and tenants kept apart.

use axum::http::Method;
use serde_json::{Value, json};

use super::{Answer, TestApi};

/// File sources allowed, as a single-user setup has it.
async fn open_api() -> TestApi {
    TestApi::with_flags(&["--api-allow-file-sources", "--api-max-body-bytes", "4096"]).await
}

fn doc(name: &str) -> Value {
    json!({"source": format!("file:///docs/{name}")})
}

/// A submit with an `Idempotency-Key`.
async fn submit_keyed(api: &TestApi, key: &str, body: &Value, idempotency_key: &str) -> Answer {
    api.post_with("/v1/jobs", key, ("idempotency-key", idempotency_key), body)
        .await
}

#[tokio::test]
async fn a_submitted_job_is_queued_and_readable_by_its_tenant_only() {
    let api = open_api().await;
    let (a, b) = (api.member("acme").await, api.member("globex").await);
    let accepted = api.post("/v1/jobs", &a, &doc("a.pdf")).await;
    let job = accepted.expect_json(202);
    let job_id = job["job_id"].as_str().unwrap();
    assert_eq!(job["source"], "file:///docs/a.pdf");
    assert_eq!(job["state"], "queued");
    assert_eq!(job["status_url"], format!("/v1/jobs/{job_id}"));
    assert_eq!(
        accepted.header("location"),
        Some(format!("/v1/jobs/{job_id}").as_str())
    );
    assert_eq!(accepted.header("idempotent-replayed"), None);

    let row = api
        .get(&format!("/v1/jobs/{job_id}"), &a)
        .await
        .expect_json(200);
    assert_eq!(
        (&row["job_id"], &row["state"]),
        (&json!(job_id), &json!("queued"))
    );
    assert_eq!(row["tenant"], "acme");
    // Another tenant's job answers exactly as a missing one.
    let theirs = api.get(&format!("/v1/jobs/{job_id}"), &b).await;
    let missing = format!("/v1/jobs/{}", uuid::Uuid::new_v4());
    theirs.assert_problem(404);
    api.get(&missing, &b).await.assert_problem(404);
    assert_eq!(
        api.get("/v1/jobs", &b).await.expect_json(200)["jobs"],
        json!([])
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_request_only() {
    let api = open_api().await;
    let (a, b) = (api.member("acme").await, api.member("globex").await);
    let first = submit_keyed(&api, &a, &doc("a.pdf"), "upload-1").await;
    let job_id = first.expect_json(202)["job_id"].clone();
    let again = submit_keyed(&api, &a, &doc("a.pdf"), "upload-1").await;
    assert_eq!(again.expect_json(202)["job_id"], job_id);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let detail = submit_keyed(&api, &a, &doc("b.pdf"), "upload-1")
        .await
        .assert_problem(422);
    assert!(detail.contains("different request"), "{detail}");
    // The same key from another tenant is that tenant's own job.
    let theirs = submit_keyed(&api, &b, &doc("a.pdf"), "upload-1").await;
    assert_ne!(theirs.expect_json(202)["job_id"], job_id);
    for bad in [" padded", &"k".repeat(256)] {
        submit_keyed(&api, &a, &doc("a.pdf"), bad)
            .await
            .assert_problem(400);
    }
}

#[tokio::test]
async fn malformed_submits_are_refused_before_any_job_is_made() {
    let api = open_api().await;
    let a = api.member("acme").await;
    let raw = |content_type: &'static str, body: &'static str| {
        api.send_body(Method::POST, "/v1/jobs", Some(&a), content_type, body)
    };
    raw("application/json", "{not json")
        .await
        .assert_problem(400);
    raw("text/plain", "file:///docs/a.pdf")
        .await
        .assert_problem(415);
    let too_big = json!({"source": "x".repeat(5000)});
    api.post("/v1/jobs", &a, &too_big).await.assert_problem(413);
    for unknown in [
        json!({"source": "file:///docs/a.pdf", "extra": 1}),
        json!({"source": "file:///docs/a.pdf", "tenant": "globex"}),
        json!({"source": "file:///docs/a.pdf", "options": {"chunk_max_tokens": 1.5}}),
        json!({"source": "file:///docs/a.pdf", "options": {"colour": "red"}}),
        json!({"options": {}}),
    ] {
        api.post("/v1/jobs", &a, &unknown).await.assert_problem(422);
    }
    let too_many_tags: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("t{i}"), json!("v"))).collect();
    for invalid in [
        json!({"source": "http://example.com/a.pdf"}),
        json!({"source": "file://relative/a.pdf"}),
        json!({"source": "file:///docs/../etc/passwd"}),
        json!({"source": "file:///docs/a.pdf", "options": {"callback_url": "ftp://x"}}),
        json!({"source": "file:///docs/a.pdf", "options": {"tags": {"Team": "legal"}}}),
        json!({"source": "file:///docs/a.pdf", "options": {"tags": {"team": ""}}}),
        json!({"source": "file:///docs/a.pdf", "options": {"tags": too_many_tags}}),
        json!({"source": "file:///docs/a.pdf",
               "options": {"batch_callback_url": "https://hooks.example/b"}}),
    ] {
        api.post("/v1/jobs", &a, &invalid).await.assert_problem(400);
    }
    assert_eq!(
        api.get("/v1/jobs", &a).await.expect_json(200)["jobs"],
        json!([])
    );
}

#[tokio::test]
async fn file_sources_need_the_opt_in_and_source_prefixes_keep_tenants_apart() {
    let api = TestApi::with_flags(&["--api-source-prefixes", "s3://inbox/{tenant}/"]).await;
    let b = api.member("globex").await;
    let detail = api
        .post("/v1/jobs", &b, &doc("a.pdf"))
        .await
        .assert_problem(400);
    assert!(
        detail.contains("DOCFLEET_API_ALLOW_FILE_SOURCES"),
        "{detail}"
    );
    let theirs = json!({"source": "s3://inbox/acme/report.pdf"});
    api.post("/v1/jobs", &b, &theirs).await.assert_problem(403);
    let mine = json!({"source": "s3://inbox/globex/report.pdf"});
    api.post("/v1/jobs", &b, &mine).await.expect_json(202);
}

#[tokio::test]
async fn jobs_are_listed_in_pages_and_filtered() {
    let api = open_api().await;
    let a = api.member("acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = api.post("/v1/jobs", &a, &doc(&format!("{i}.pdf"))).await;
        ids.push(job.expect_json(202)["job_id"].clone());
    }
    let page1 = api.get("/v1/jobs?limit=3", &a).await.expect_json(200);
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let page2 = api
        .get(&format!("/v1/jobs?limit=3&cursor={cursor}"), &a)
        .await
        .expect_json(200);
    assert!(
        page2.get("next_cursor").is_none(),
        "the last page has no cursor"
    );
    let listed: Vec<Value> = page1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["jobs"].as_array().unwrap())
        .map(|j| j["job_id"].clone())
        .collect();
    assert_eq!(listed, ids, "in submission order");
    let exact = api.get("/v1/jobs?limit=5", &a).await.expect_json(200);
    assert_eq!(exact["jobs"].as_array().unwrap().len(), 5);
    assert!(exact["next_cursor"].is_i64(), "a full page may have more");
    let queued = api.get("/v1/jobs?state=queued", &a).await.expect_json(200);
    assert_eq!(queued["jobs"].as_array().unwrap().len(), 5);
    let done = api
        .get("/v1/jobs?state=succeeded", &a)
        .await
        .expect_json(200);
    assert_eq!(done["jobs"], json!([]));
    for bad in [
        "limit=0",
        "limit=501",
        "state=bogus",
        "cursor=x",
        "batch=not-a-uuid",
        "nope=1",
    ] {
        api.get(&format!("/v1/jobs?{bad}"), &a)
            .await
            .assert_problem(400);
    }
    api.get("/v1/jobs/not-a-uuid", &a).await.assert_problem(400);
}
