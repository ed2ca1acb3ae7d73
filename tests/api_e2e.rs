//! The job API end to end: a real `docfleet api` process and a real worker, on RabbitMQ and
//! PostgreSQL with an S3 (moto) bucket for uploads and artifacts, tenants and keys made with the
//! CLI; HTTP through curl (the setting: tests/support/api_fleet.rs).
//!
//! Submit (single, idempotent, batch, upload) → the worker runs the jobs → the API reports them,
//! pages them and sends the batch's webhook; another tenant sees none of it. Search and delete:
//! api_search_e2e.rs; bad requests and access rules: api_requests_e2e.rs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::api_fleet::ApiFleet;
use support::fixture_uri as uri;
use support::receiver::{self, Request as Hook};

#[test]
fn jobs_batches_and_uploads_run_and_report_with_tenants_kept_apart() {
    let f = ApiFleet::start("api");
    let (api, a, b, bucket) = (&f.api, &f.a, &f.b, &f.bucket);

    // One job, idempotent.
    let body = json!({"source": uri("honeybee-swarms.txt")});
    let first = api.post("/v1/jobs", a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(first.status, 202, "{}", first.body);
    let job = first.json();
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    assert!(
        first
            .headers
            .contains(&format!("location: /v1/jobs/{job_id}"))
    );
    let again = api.post("/v1/jobs", a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(
        (again.status, again.json()["job_id"].as_str().unwrap()),
        (202, job_id.as_str())
    );
    assert!(again.headers.contains("idempotent-replayed: true"));
    let other = json!({"source": uri("ocean-tides.html")});
    api.post("/v1/jobs", a, &other, &["Idempotency-Key: upload-1"])
        .assert_problem(422);

    // A batch of three, with a batch callback (its receiver refuses the first request).
    let (hook_base, hooks) = receiver::start(1);
    let batch = json!({
        "uris": [uri("marathon-training.md"), uri("ocean-tides.html"), uri("volcanic-eruptions.pdf")],
        "callback_url": format!("{hook_base}/hooks/docfleet"),
    });
    let reply = api.post("/v1/batches", a, &batch, &[]);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let batch_id = reply.json()["batch_id"].as_str().unwrap().to_owned();

    // An upload: stored in the bucket first, then its job.
    let uploaded = f.upload_chess_openings();
    let source = uploaded["source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("s3://{bucket}/fleet/acme/_uploads/"))
            && source.ends_with("/chess_openings.pdf"),
        "{source}"
    );
    api.call(
        "POST",
        "/v1/jobs",
        Some(a),
        None,
        &["-F", "other=@/dev/null"],
    )
    .assert_problem(400);

    f.run_worker("api-worker");
    let uploaded_job = api
        .get(
            &format!("/v1/jobs/{}", uploaded["job_id"].as_str().unwrap()),
            a,
        )
        .json();
    assert_eq!(uploaded_job["state"], "succeeded", "{uploaded_job}");
    assert!(uploaded_job["pages"].as_u64().unwrap() >= 1);

    let got = api.get(&format!("/v1/jobs/{job_id}"), a).json();
    assert_eq!(got["state"], "succeeded", "{got}");
    assert!(got["chunks"].as_u64().unwrap() >= 1);
    let progress = api.get(&format!("/v1/batches/{batch_id}"), a).json();
    assert_eq!(progress["total"], 3, "{progress}");
    assert_eq!(progress["succeeded"], 3, "{progress}");
    let sum: u64 = ["queued", "running", "succeeded", "failed", "dead"]
        .iter()
        .map(|s| progress[s].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 3, "the counts add up");
    // One batch.completed, sent again after the refusal with the same delivery id.
    let got: Vec<Hook> = receiver::next_requests(&hooks, 2, Duration::from_secs(60));
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].delivery_id(), got[1].delivery_id());
    let event: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(
        (
            &event["event"],
            &event["batch_id"],
            &event["total"],
            &event["succeeded"]
        ),
        (
            &json!("batch.completed"),
            &json!(batch_id),
            &json!(3),
            &json!(3)
        ),
        "{event}"
    );
    assert!(
        hooks.recv_timeout(Duration::from_secs(2)).is_err(),
        "one event per batch, not one per job"
    );

    // Paging: 5 jobs, 3 per page.
    let page1 = api.get("/v1/jobs?limit=3", a).json();
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let page2 = api
        .get(&format!("/v1/jobs?limit=3&cursor={cursor}"), a)
        .json();
    let ids: Vec<&str> = page1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["jobs"].as_array().unwrap())
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        page2.get("next_cursor").is_none(),
        "the last page has no cursor"
    );
    assert_eq!(ids[0], job_id);
    let batch_only = api
        .get(&format!("/v1/jobs?batch={batch_id}&state=succeeded"), a)
        .json();
    assert_eq!(batch_only["jobs"].as_array().unwrap().len(), 3);

    // Tenant B sees none of it.
    api.get(&format!("/v1/jobs/{job_id}"), b)
        .assert_problem(404);
    api.get(&format!("/v1/batches/{batch_id}"), b)
        .assert_problem(404);
    assert!(
        api.get("/v1/jobs", b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        api.get(&format!("/v1/jobs?batch={batch_id}"), b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // B replaying A's idempotency key makes B's own job, not A's.
    let b_job = api
        .post("/v1/jobs", b, &body, &["Idempotency-Key: upload-1"])
        .json();
    assert_ne!(b_job["job_id"].as_str().unwrap(), job_id);
}
