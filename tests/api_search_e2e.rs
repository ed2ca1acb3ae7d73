//! Search and delete over the job API end to end: documents submitted over the API (JSON, a
//! batch, an upload) and indexed by a real worker with the real model, then searched (hybrid and
//! keyword, filters, snippets, facets) and deleted (points, artifacts and the upload) by their
//! tenant only. The setting: tests/support/api_fleet.rs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::json;
use support::api_fleet::ApiFleet;
use support::fixture_uri as uri;

#[test]
fn search_finds_the_callers_documents_only_and_delete_removes_every_trace() {
    let f = ApiFleet::start("api-search");
    let (api, a, b, bucket) = (&f.api, &f.a, &f.b, &f.bucket);
    let job = api.post(
        "/v1/jobs",
        a,
        &json!({"source": uri("honeybee-swarms.txt")}),
        &[],
    );
    assert_eq!(job.status, 202, "{}", job.body);
    let batch = json!({
        "uris": [uri("marathon-training.md"), uri("ocean-tides.html"), uri("volcanic-eruptions.pdf")],
    });
    let batch = api.post("/v1/batches", a, &batch, &[]);
    assert_eq!(batch.status, 202, "{}", batch.body);
    let uploaded = f.upload_chess_openings();
    let source = uploaded["source"].as_str().unwrap();
    f.run_worker("search-worker");

    // Search: the caller's vectors only, best first.
    let found = api.post(
        "/v1/search",
        a,
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
            a,
            &json!({"query": "chess", "top_k": 50, "filter": {"doc_id": bee_doc}}),
            &[],
        )
        .json();
    let only = only["results"].as_array().unwrap();
    assert!(!only.is_empty() && only.iter().all(|r| r["doc_id"] == bee_doc.as_str()));
    let b_found = api
        .post("/v1/search", b, &json!({"query": "honeybee swarms"}), &[])
        .json();
    assert_eq!(
        b_found["results"],
        json!([]),
        "tenant B finds nothing of A's"
    );
    let b_filtered = api
        .post(
            "/v1/search",
            b,
            &json!({"query": "honeybee", "filter": {"doc_id": bee_doc}}),
            &[],
        )
        .json();
    assert_eq!(b_filtered["results"], json!([]), "not even by A's doc id");
    // Keyword mode, a media-type filter, highlighted snippets and facet counts.
    let keyword = api.post(
        "/v1/search",
        a,
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
    api.delete(&format!("/v1/documents/{bee_doc}"), b)
        .assert_problem(404);

    // Delete the uploaded document: its points, its artifacts and the upload itself.
    let chess = api
        .post(
            "/v1/search",
            a,
            &json!({"query": "chess openings", "top_k": 1}),
            &[],
        )
        .json();
    let chess = &chess["results"][0];
    assert_eq!(chess["source"], uploaded["source"], "{chess}");
    let chess_doc = chess["doc_id"].as_str().unwrap().to_owned();
    let upload_key = source
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap()
        .to_owned();
    assert_eq!(
        f.objects(&upload_key).as_slice(),
        std::slice::from_ref(&upload_key)
    );
    let artifacts = f.objects(&format!("fleet/acme/{chess_doc}/"));
    assert_eq!(artifacts.len(), 3, "text, chunks, manifest: {artifacts:?}");
    let deleted = api.delete(&format!("/v1/documents/{chess_doc}"), a);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let deleted = deleted.json();
    assert!(
        deleted["points_deleted"].as_u64().unwrap() >= 1,
        "{deleted}"
    );
    assert_eq!(deleted["objects_deleted"], 4, "{deleted}");
    assert!(f.objects(&format!("fleet/acme/{chess_doc}/")).is_empty());
    assert!(f.objects(&upload_key).is_empty(), "the upload is gone too");
    let after = api
        .post(
            "/v1/search",
            a,
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
    api.delete(&format!("/v1/documents/{chess_doc}"), a)
        .assert_problem(404);
}
