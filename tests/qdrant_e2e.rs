//! The fleet on a Qdrant server, end to end: `docfleet run` and a long-running worker write to
//! Qdrant, the API searches while the worker runs (the embedded index cannot: one writer), runs
//! are idempotent, deletes and tenants hold. Needs a server: `QDRANT_URL`, its gRPC URL (e.g.
//! http://127.0.0.1:6334); without it the test prints SKIPPED and passes. The collection is
//! fresh and dropped at the end.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::api::{cli, start_api};
use support::fleet::{Fleet, Kind};
use support::{fixtures, json, ok};

fn qdrant_url() -> Option<String> {
    let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!(
            "SKIPPED: the Qdrant end-to-end test needs a server; set QDRANT_URL to its gRPC URL \
             (e.g. http://127.0.0.1:6334) to run it"
        );
    }
    url
}

/// Drops the test's collection whatever happened.
struct Collection {
    url: String,
    name: String,
}

impl Drop for Collection {
    fn drop(&mut self) {
        let client = qdrant_client::Qdrant::from_url(&self.url)
            .skip_compatibility_check()
            .build()
            .unwrap();
        let _ = support::block_on(client.delete_collection(self.name.clone()));
    }
}

#[test]
fn fleet_writes_to_qdrant_and_the_api_searches_it_live() {
    let Some(url) = qdrant_url() else { return };
    let collection = Collection {
        url: url.clone(),
        name: format!("e2e_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    let fleet = Fleet::new(Kind::LocalSqlite, "qdrant");
    let q = [
        ("DOCFLEET_QDRANT_URL", url.as_str()),
        ("DOCFLEET_QDRANT_COLLECTION", collection.name.as_str()),
    ];
    let docs = fixtures().join("docs");
    let run = |tenant: &str| {
        let out = ok(fleet
            .cmd()
            .args(["run", "--json", "--tenant", tenant])
            .arg(&docs)
            .envs(q)
            .output()
            .unwrap());
        json(&out)
    };
    let stats = || {
        let out = ok(fleet
            .cmd()
            .args(["stats", "--json"])
            .envs(q)
            .output()
            .unwrap());
        json(&out)
    };

    // `docfleet run` into Qdrant; the second run finds everything unchanged.
    let first = run("acme");
    assert_eq!(first["indexed"], 8, "{first}");
    let before = stats();
    let again = run("acme");
    assert_eq!(
        (&again["indexed"], &again["unchanged"]),
        (&json!(0), &json!(8)),
        "{again}"
    );
    assert_eq!(stats(), before, "a re-run adds no point");
    let acme_points = before[0]["points"].as_u64().unwrap();
    assert!(acme_points >= 8, "{before}");

    // A worker that keeps running, and the API beside it.
    cli(&fleet, &["tenants", "create", "acme"]);
    cli(&fleet, &["tenants", "create", "globex"]);
    let a = cli(&fleet, &["keys", "create", "acme"]);
    let b = cli(&fleet, &["keys", "create", "globex"]);
    let mut worker = fleet.spawn_worker("qdrant-worker", &q);
    let mut api_env = q.to_vec();
    api_env.push(("DOCFLEET_API_ALLOW_FILE_SOURCES", "true"));
    let api = start_api(&fleet, "api", &api_env);

    let bees = std::fs::canonicalize(docs.join("honeybee-swarms.txt")).unwrap();
    let job = api
        .post(
            "/v1/jobs",
            &b,
            &json!({"source": format!("file://{}", bees.display())}),
            &[],
        )
        .json();
    let job_path = format!("/v1/jobs/{}", job["job_id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while api.get(&job_path, &b).json()["state"] != "succeeded" {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            worker.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Search while the worker runs; each tenant sees only its own documents.
    let search = |key: &str, query: &str, filter: Value| -> Vec<Value> {
        let reply = api.post(
            "/v1/search",
            key,
            &json!({"query": query, "top_k": 20, "filter": filter}),
            &[],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["results"].as_array().unwrap().clone()
    };
    let globex = search(&b, "honeybee swarms", json!({}));
    assert!(!globex.is_empty());
    assert!(globex.iter().all(|r| {
        r["source"]
            .as_str()
            .unwrap()
            .ends_with("honeybee-swarms.txt")
    }));
    let volcano = search(&a, "how do volcanoes erupt", json!({}));
    assert!(
        volcano[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("volcanic-eruptions.pdf"),
        "{volcano:?}"
    );
    let volcano_doc = volcano[0]["doc_id"].as_str().unwrap().to_owned();
    assert!(search(&b, "volcanoes", json!({"doc_id": volcano_doc})).is_empty());
    api.call(
        "DELETE",
        &format!("/v1/documents/{volcano_doc}"),
        Some(&b),
        None,
        &[],
    )
    .assert_problem(404);

    // Acme deletes the volcano document: gone from search and from the counts.
    let deleted = api
        .call(
            "DELETE",
            &format!("/v1/documents/{volcano_doc}"),
            Some(&a),
            None,
            &[],
        )
        .json();
    let gone = deleted["points_deleted"].as_u64().unwrap();
    assert!(gone >= 1, "{deleted}");
    assert!(search(&a, "volcanoes", json!({"doc_id": volcano_doc})).is_empty());
    let after = stats();
    let acme = after
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "acme")
        .unwrap();
    assert_eq!(
        acme["points"].as_u64().unwrap(),
        acme_points - gone,
        "{after}"
    );
    assert_eq!(acme["documents"], 7, "{after}");
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tenant"] == "globex")
    );

    worker.signal("-TERM");
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log_text()
    );
    drop(collection);
}
