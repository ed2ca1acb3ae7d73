//! The job API end to end: a real `docfleet api` process and a real worker, on RabbitMQ and
//! PostgreSQL with an S3 (moto) bucket for uploads and artifacts, tenants and keys made with the
//! CLI; HTTP through curl.
//!
//! Submit (single, idempotent, batch) → the worker runs the jobs → the API reports them; tenant
//! isolation on every route; malformed and oversized requests answer problem+json 4xx, never 5xx.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::api::{cli, start_api};
use support::fixtures;
use support::fleet::{Fleet, Kind, create_bucket, s3};
use support::receiver::Request as Hook;

fn uri(name: &str) -> String {
    let path = std::fs::canonicalize(fixtures().join("docs").join(name)).unwrap();
    format!("file://{}", Path::new(&path).display())
}

#[test]
fn submit_run_read_with_tenants_kept_apart() {
    let fleet = Fleet::new(Kind::Rabbitmq, "api");
    cli(&fleet, &["tenants", "create", "acme"]);
    cli(&fleet, &["tenants", "create", "globex"]);
    let a = cli(&fleet, &["keys", "create", "acme", "--label", "e2e"]);
    let b = cli(&fleet, &["keys", "create", "globex"]);
    // Uploads and artifacts go to a bucket: API and worker share the object store.
    let bucket = format!("api-{}", &fleet.queue_name[fleet.queue_name.len() - 8..]);
    create_bucket(&s3(), &bucket);
    let store_url = format!("s3://{bucket}/fleet");
    let store_env = ("DOCFLEET_OBJECT_STORE_URL", store_url.as_str());
    let api = start_api(
        &fleet,
        "api",
        &[("DOCFLEET_API_ALLOW_FILE_SOURCES", "true"), store_env],
    );

    // One job, idempotent.
    let body = json!({"source": uri("honeybee-swarms.txt")});
    let first = api.post("/v1/jobs", &a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(first.status, 202, "{}", first.body);
    let job = first.json();
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    assert!(
        first
            .headers
            .contains(&format!("location: /v1/jobs/{job_id}"))
    );
    let again = api.post("/v1/jobs", &a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(
        (again.status, again.json()["job_id"].as_str().unwrap()),
        (202, job_id.as_str())
    );
    assert!(again.headers.contains("idempotent-replayed: true"));
    let other = json!({"source": uri("ocean-tides.html")});
    api.post("/v1/jobs", &a, &other, &["Idempotency-Key: upload-1"])
        .assert_problem(422);

    // A batch of three, with a batch callback (its receiver refuses the first request).
    let (hook_url, hooks) = hook_receiver();
    let batch = json!({
        "uris": [uri("marathon-training.md"), uri("ocean-tides.html"), uri("volcanic-eruptions.pdf")],
        "callback_url": hook_url,
    });
    let reply = api.post("/v1/batches", &a, &batch, &[]);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let batch_id = reply.json()["batch_id"].as_str().unwrap().to_owned();

    // An upload: stored in the bucket first, then its job.
    let pdf = fixtures().join("docs/chess-openings.pdf");
    let upload = api.call(
        "POST",
        "/v1/jobs",
        Some(&a),
        None,
        &[
            "-F",
            &format!("file=@{};filename=chess openings.pdf", pdf.display()),
        ],
    );
    assert_eq!(upload.status, 202, "{}", upload.body);
    let uploaded = upload.json();
    let source = uploaded["source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("s3://{bucket}/fleet/acme/_uploads/"))
            && source.ends_with("/chess_openings.pdf"),
        "{source}"
    );
    api.call(
        "POST",
        "/v1/jobs",
        Some(&a),
        None,
        &["-F", "other=@/dev/null"],
    )
    .assert_problem(400);

    let mut worker = fleet.spawn_worker(
        "api-worker",
        &[("DOCFLEET_EXIT_WHEN_IDLE", "true"), store_env],
    );
    assert!(
        worker.wait(Duration::from_secs(240)).success(),
        "{}",
        worker.log_text()
    );
    let uploaded_job = api
        .get(
            &format!("/v1/jobs/{}", uploaded["job_id"].as_str().unwrap()),
            &a,
        )
        .json();
    assert_eq!(uploaded_job["state"], "succeeded", "{uploaded_job}");
    assert!(uploaded_job["pages"].as_u64().unwrap() >= 1);

    let got = api.get(&format!("/v1/jobs/{job_id}"), &a).json();
    assert_eq!(got["state"], "succeeded", "{got}");
    assert!(got["chunks"].as_u64().unwrap() >= 1);
    let progress = api.get(&format!("/v1/batches/{batch_id}"), &a).json();
    assert_eq!(progress["total"], 3, "{progress}");
    assert_eq!(progress["succeeded"], 3, "{progress}");
    let sum: u64 = ["queued", "running", "succeeded", "failed", "dead"]
        .iter()
        .map(|s| progress[s].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 3, "the counts add up");
    // One batch.completed, sent again after the refusal with the same delivery id.
    let got: Vec<Hook> = (0..2)
        .map(|_| {
            hooks
                .recv_timeout(Duration::from_secs(60))
                .expect("a batch webhook")
        })
        .collect();
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(delivery_id(&got[0]), delivery_id(&got[1]));
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
    let page1 = api.get("/v1/jobs?limit=3", &a).json();
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let page2 = api
        .get(&format!("/v1/jobs?limit=3&cursor={cursor}"), &a)
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
        .get(&format!("/v1/jobs?batch={batch_id}&state=succeeded"), &a)
        .json();
    assert_eq!(batch_only["jobs"].as_array().unwrap().len(), 3);

    // Tenant B sees none of it.
    api.get(&format!("/v1/jobs/{job_id}"), &b)
        .assert_problem(404);
    api.get(&format!("/v1/batches/{batch_id}"), &b)
        .assert_problem(404);
    assert!(
        api.get("/v1/jobs", &b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        api.get(&format!("/v1/jobs?batch={batch_id}"), &b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Search: the caller's vectors only, best first.
    let found = api.post(
        "/v1/search",
        &a,
        &json!({"query": "how do honeybee swarms choose a new home", "top_k": 3}),
        &[],
    );
    assert_eq!(found.status, 200, "{}", found.body);
    let results = found.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        results[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("honeybee-swarms.txt"),
        "{results:?}"
    );
    let bee_doc = results[0]["doc_id"].as_str().unwrap().to_owned();
    let only = api
        .post(
            "/v1/search",
            &a,
            &json!({"query": "chess", "top_k": 50, "filter": {"doc_id": bee_doc}}),
            &[],
        )
        .json();
    let only = only["results"].as_array().unwrap();
    assert!(!only.is_empty() && only.iter().all(|r| r["doc_id"] == bee_doc.as_str()));
    let b_found = api
        .post("/v1/search", &b, &json!({"query": "honeybee swarms"}), &[])
        .json();
    assert_eq!(
        b_found["results"],
        json!([]),
        "tenant B finds nothing of A's"
    );
    let b_filtered = api
        .post(
            "/v1/search",
            &b,
            &json!({"query": "honeybee", "filter": {"doc_id": bee_doc}}),
            &[],
        )
        .json();
    assert_eq!(b_filtered["results"], json!([]), "not even by A's doc id");
    // Keyword mode, a media-type filter, highlighted snippets and facet counts.
    let keyword = api.post(
        "/v1/search",
        &a,
        &json!({"query": "swarm", "mode": "keyword", "top_k": 3, "facets": true,
                "filter": {"media_types": ["text/plain"]}}),
        &[],
    );
    assert_eq!(keyword.status, 200, "{}", keyword.body);
    let keyword = keyword.json();
    let hits = keyword["results"].as_array().unwrap();
    assert!(
        !hits.is_empty() && hits.iter().all(|h| h["media_type"] == "text/plain"),
        "{keyword}"
    );
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("**"),
        "{keyword}"
    );
    assert_eq!(
        keyword["facets"]["media_type"][0]["value"], "text/plain",
        "{keyword}"
    );
    for bad in [
        json!({"query": "x", "filter": {"pages": {"first": 5, "last": 2}}}),
        json!({"query": "x", "weights": {"dense": 0, "keyword": 0}}),
        json!({"query": "x", "filter": {"source_prefix": "s3://no-slash"}}),
    ] {
        api.post("/v1/search", &a, &bad, &[]).assert_problem(400);
    }
    api.post(
        "/v1/search",
        &a,
        &json!({"query": "x", "mode": "fuzzy"}),
        &[],
    )
    .assert_problem(422);
    api.call(
        "DELETE",
        &format!("/v1/documents/{bee_doc}"),
        Some(&b),
        None,
        &[],
    )
    .assert_problem(404);
    api.post("/v1/search", &a, &json!({"query": "  "}), &[])
        .assert_problem(400);
    api.post("/v1/search", &a, &json!({"query": "x", "top_k": 0}), &[])
        .assert_problem(400);
    api.post("/v1/search", &a, &json!({"query": "x", "top_k": 1.5}), &[])
        .assert_problem(422);
    api.post(
        "/v1/search",
        &a,
        &json!({"query": "x", "filter": {"tenant": "globex"}}),
        &[],
    )
    .assert_problem(422);
    api.call("DELETE", "/v1/documents/not-hex", Some(&a), None, &[])
        .assert_problem(400);

    // Delete the uploaded document: its points, its artifacts and the upload itself.
    let chess = api
        .post(
            "/v1/search",
            &a,
            &json!({"query": "chess openings", "top_k": 1}),
            &[],
        )
        .json();
    let chess = &chess["results"][0];
    assert_eq!(chess["source"], uploaded["source"], "{chess}");
    let chess_doc = chess["doc_id"].as_str().unwrap().to_owned();
    let objects = |prefix: &str| -> Vec<String> {
        support::fleet::block_on(s3().list(&bucket, prefix))
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    let upload_key = source
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap()
        .to_owned();
    assert_eq!(
        objects(&upload_key).as_slice(),
        std::slice::from_ref(&upload_key)
    );
    let artifacts = objects(&format!("fleet/acme/{chess_doc}/"));
    assert_eq!(artifacts.len(), 3, "text, chunks, manifest: {artifacts:?}");
    let deleted = api.call(
        "DELETE",
        &format!("/v1/documents/{chess_doc}"),
        Some(&a),
        None,
        &[],
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let deleted = deleted.json();
    assert!(
        deleted["points_deleted"].as_u64().unwrap() >= 1,
        "{deleted}"
    );
    assert_eq!(deleted["objects_deleted"], 4, "{deleted}");
    assert!(objects(&format!("fleet/acme/{chess_doc}/")).is_empty());
    assert!(objects(&upload_key).is_empty(), "the upload is gone too");
    let after = api
        .post(
            "/v1/search",
            &a,
            &json!({"query": "chess openings", "top_k": 20}),
            &[],
        )
        .json();
    assert!(
        after["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["doc_id"] != chess_doc.as_str()),
        "{after}"
    );
    api.call(
        "DELETE",
        &format!("/v1/documents/{chess_doc}"),
        Some(&a),
        None,
        &[],
    )
    .assert_problem(404);

    // B replaying A's idempotency key makes B's own job, not A's.
    let b_job = api
        .post("/v1/jobs", &b, &body, &["Idempotency-Key: upload-1"])
        .json();
    assert_ne!(b_job["job_id"].as_str().unwrap(), job_id);

    // Bad requests: problem+json 4xx, never 5xx.
    api.call("GET", "/v1/jobs", None, None, &[])
        .assert_problem(401);
    api.get(
        "/v1/jobs",
        "dfk_000000000000_0000000000000000000000000000000000000000000000000000000000000000",
    )
    .assert_problem(401);
    api.call("POST", "/v1/jobs", Some(&a), Some("{not json"), &[])
        .assert_problem(400);
    api.post(
        "/v1/jobs",
        &a,
        &json!({"source": uri("ocean-tides.html"), "extra": 1}),
        &[],
    )
    .assert_problem(422);
    api.post(
        "/v1/jobs",
        &a,
        &json!({"source": "http://example.com/a.pdf"}),
        &[],
    )
    .assert_problem(400);
    api.post("/v1/jobs", &a, &json!({"source": "x".repeat(5000)}), &[])
        .assert_problem(413);
    api.get("/v1/jobs/not-a-uuid", &a).assert_problem(400);
    api.get("/v1/jobs?limit=0", &a).assert_problem(400);
    api.get("/v1/jobs?state=bogus", &a).assert_problem(400);
    api.post("/v1/batches", &a, &json!({"uris": []}), &[])
        .assert_problem(400);
    api.get("/v1/nothing-here", &a).assert_problem(404);

    // The contract lists every route.
    let spec = api.call("GET", "/openapi.json", None, None, &[]).json();
    for path in [
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/batches",
        "/v1/batches/{batch_id}",
        "/v1/search",
        "/v1/documents/{doc_id}",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }

    let metrics = api.call("GET", "/metrics", None, None, &[]).body;
    assert!(
        metrics.contains(
            r#"docfleet_api_requests_total{route="/v1/jobs",method="POST",status="202"}"#
        ),
        "{metrics}"
    );

    // Tenant B cannot reach A's documents through the fleet's object store (every tenant's
    // uploads and artifacts live there): not as a job, a batch URI or a batch prefix to list.
    for (path, body) in [
        ("/v1/jobs", json!({ "source": source })),
        ("/v1/batches", json!({ "uris": [source] })),
        (
            "/v1/batches",
            json!({ "prefix": format!("s3://{bucket}/fleet/acme/") }),
        ),
        (
            "/v1/batches",
            json!({ "prefix": format!("s3://{bucket}/") }),
        ),
    ] {
        api.post(path, &b, &body, &[]).assert_problem(403);
    }

    // A revoked key stops working at once.
    let key_id = a.split('_').nth(1).unwrap();
    cli(&fleet, &["keys", "revoke", key_id]);
    api.get("/v1/jobs", &a).assert_problem(401);

    // Without the opt-in, file:// sources are refused; with source prefixes, each tenant keeps
    // to its own.
    let strict = start_api(
        &fleet,
        "api-strict",
        &[("DOCFLEET_API_SOURCE_PREFIXES", "s3://inbox-e2e/{tenant}/")],
    );
    strict
        .post(
            "/v1/jobs",
            &b,
            &json!({"source": uri("ocean-tides.html")}),
            &[],
        )
        .assert_problem(400);
    let theirs = json!({"source": "s3://inbox-e2e/acme/report.pdf"});
    strict
        .post("/v1/jobs", &b, &theirs, &[])
        .assert_problem(403);
    let mine = json!({"source": "s3://inbox-e2e/globex/report.pdf"});
    let reply = strict.post("/v1/jobs", &b, &mine, &[]);
    assert_eq!(reply.status, 202, "{}", reply.body);
}

/// A webhook receiver that answers 500 to the first request, 200 to the others.
fn hook_receiver() -> (String, std::sync::mpsc::Receiver<Hook>) {
    let (base, requests) = support::receiver::start(1);
    (format!("{base}/hooks/docfleet"), requests)
}

fn delivery_id(h: &Hook) -> String {
    h.header("docfleet-delivery").unwrap()
}

/// HMAC-SHA256 by Python's hmac module: an implementation independent of the worker's.
fn python_hmac(secret: &str, message: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            secret,
            message,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn completion_webhooks_are_signed_and_retried() {
    let fleet = Fleet::new(Kind::LocalSqlite, "hooks");
    let (url, hooks) = hook_receiver();
    let docs = fleet.data_dir().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(
        fixtures().join("docs/honeybee-swarms.txt"),
        docs.join("bees.txt"),
    )
    .unwrap();
    std::fs::copy(fixtures().join("bad/corrupt.pdf"), docs.join("corrupt.pdf")).unwrap();
    let ids = fleet.enqueue_with(&["--callback-url", &url], &[&docs]);
    assert_eq!(ids.len(), 2);
    let secret = "whsec-e2e-0123456789";
    let mut worker = fleet.spawn_worker(
        "hook-worker",
        &[
            ("DOCFLEET_EXIT_WHEN_IDLE", "true"),
            ("DOCFLEET_WEBHOOK_SECRET", secret),
            ("DOCFLEET_CONCURRENCY", "1"),
        ],
    );
    // Three requests: the first answered 500 and sent again, then the other job's.
    let got: Vec<Hook> = (0..3)
        .map(|_| {
            hooks
                .recv_timeout(Duration::from_secs(120))
                .expect("a webhook")
        })
        .collect();
    assert!(
        worker.wait(Duration::from_secs(120)).success(),
        "{}",
        worker.log_text()
    );

    let delivery = delivery_id;
    // The refused one came again with the same delivery id and body (maybe after the other).
    let retried: Vec<&Hook> = got[1..]
        .iter()
        .filter(|h| delivery(h) == delivery(&got[0]))
        .collect();
    assert_eq!(retried.len(), 1, "a retry keeps its delivery id");
    assert_eq!(retried[0].body, got[0].body);
    let mut events = Vec::new();
    for h in &got[1..] {
        let sig = h.header("docfleet-signature").expect("signed");
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|r| r.split_once(",v1="))
            .unwrap();
        assert_eq!(
            v1,
            python_hmac(secret, &format!("{t}.{}", h.text())),
            "signature"
        );
        events.push(serde_json::from_slice::<Value>(&h.body).unwrap());
    }
    let ok = events
        .iter()
        .find(|e| e["event"] == "job.succeeded")
        .unwrap();
    assert!(ok["source"].as_str().unwrap().ends_with("bees.txt"));
    assert!(ok["chunks"].as_u64().unwrap() >= 1);
    assert!(ids.contains(&ok["job_id"].as_str().unwrap().to_owned()));
    let dead = events.iter().find(|e| e["event"] == "job.dead").unwrap();
    assert!(
        dead["error"].as_str().unwrap().contains("corrupt.pdf"),
        "{dead}"
    );
}
