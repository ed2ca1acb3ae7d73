//! The job API's door end to end, no worker needed: malformed, oversized and unauthorised
//! requests answer problem+json 4xx, never 5xx; keys are checked on every request; a tenant
//! reaches only its own sources; the contract and the metrics are served. A real `docfleet api`
//! over HTTP (curl), in the setting of tests/support/api_fleet.rs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::json;
use support::api::{cli, start_api};
use support::api_fleet::ApiFleet;
use support::fixture_uri as uri;

/// A well-formed key that was never issued.
const UNKNOWN_KEY: &str =
    "dfk_000000000000_0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn bad_requests_answer_problem_json_never_5xx() {
    let f = ApiFleet::start("api-bad");
    let (api, a) = (&f.api, &f.a);
    api.call("POST", "/v1/jobs", Some(a), Some("{not json"), &[])
        .assert_problem(400);
    api.post(
        "/v1/jobs",
        a,
        &json!({"source": uri("ocean-tides.html"), "extra": 1}),
        &[],
    )
    .assert_problem(422);
    api.post(
        "/v1/jobs",
        a,
        &json!({"source": "http://example.com/a.pdf"}),
        &[],
    )
    .assert_problem(400);
    api.post("/v1/jobs", a, &json!({"source": "x".repeat(5000)}), &[])
        .assert_problem(413);
    api.get("/v1/jobs/not-a-uuid", a).assert_problem(400);
    api.get("/v1/jobs?limit=0", a).assert_problem(400);
    api.get("/v1/jobs?state=bogus", a).assert_problem(400);
    api.post("/v1/batches", a, &json!({"uris": []}), &[])
        .assert_problem(400);
    api.get("/v1/nothing-here", a).assert_problem(404);

    // Searches are checked before the index or the model is touched.
    for bad in [
        json!({"query": "x", "filter": {"pages": {"first": 5, "last": 2}}}),
        json!({"query": "x", "weights": {"dense": 0, "keyword": 0}}),
        json!({"query": "x", "filter": {"source_prefix": "s3://no-slash"}}),
        json!({"query": "  "}),
        json!({"query": "x", "top_k": 0}),
    ] {
        api.post("/v1/search", a, &bad, &[]).assert_problem(400);
    }
    for bad in [
        json!({"query": "x", "mode": "fuzzy"}),
        json!({"query": "x", "top_k": 1.5}),
        json!({"query": "x", "filter": {"tenant": "globex"}}),
    ] {
        api.post("/v1/search", a, &bad, &[]).assert_problem(422);
    }
    api.delete("/v1/documents/not-hex", a).assert_problem(400);
}

#[test]
fn keys_are_checked_on_every_request() {
    let f = ApiFleet::start("api-keys");
    let (api, a) = (&f.api, &f.a);
    api.call("GET", "/v1/jobs", None, None, &[])
        .assert_problem(401);
    api.get("/v1/jobs", UNKNOWN_KEY).assert_problem(401);

    // A revoked key stops working at once.
    assert_eq!(api.get("/v1/jobs", a).status, 200);
    let key_id = a.split('_').nth(1).unwrap();
    cli(&f.fleet, &["keys", "revoke", key_id]);
    api.get("/v1/jobs", a).assert_problem(401);
}

#[test]
fn a_tenant_reaches_only_its_own_sources() {
    let f = ApiFleet::start("api-sources");
    let (api, b, bucket) = (&f.api, &f.b, &f.bucket);
    // acme's upload: in the fleet's object store.
    let uploaded = f.upload_chess_openings();
    let source = uploaded["source"].as_str().unwrap().to_owned();

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
        api.post(path, b, &body, &[]).assert_problem(403);
    }

    // Without the opt-in, file:// sources are refused; with source prefixes, each tenant keeps
    // to its own.
    let strict = start_api(
        &f.fleet,
        "api-strict",
        &[("DOCFLEET_API_SOURCE_PREFIXES", "s3://inbox-e2e/{tenant}/")],
    );
    strict
        .post(
            "/v1/jobs",
            b,
            &json!({"source": uri("ocean-tides.html")}),
            &[],
        )
        .assert_problem(400);
    let theirs = json!({"source": "s3://inbox-e2e/acme/report.pdf"});
    strict.post("/v1/jobs", b, &theirs, &[]).assert_problem(403);
    let mine = json!({"source": "s3://inbox-e2e/globex/report.pdf"});
    let reply = strict.post("/v1/jobs", b, &mine, &[]);
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[test]
fn the_contract_and_the_metrics_are_served() {
    let f = ApiFleet::start("api-contract");
    let api = &f.api;
    let submitted = api.post(
        "/v1/jobs",
        &f.a,
        &json!({"source": uri("honeybee-swarms.txt")}),
        &[],
    );
    assert_eq!(submitted.status, 202, "{}", submitted.body);

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
}
