//! End to end: tenant profiles with the real binary, job store, model and PDFium. Profiles are
//! validated and versioned; workers apply the current version per job without a restart, and a
//! new version re-processes a document on its next run (only then); source prefixes and the
//! per-tenant webhook apply; each model's vectors live in their own index; the model memory
//! budget unloads an idle model; `docfleet gc` applies retention.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::api::{cli, start_api};
use support::fleet::{Fleet, Kind};
use support::*;

fn set_profile(fleet: &Fleet, tenant: &str, toml: &str) -> std::process::Output {
    let file = fleet.data_dir().join(format!("{tenant}-profile.toml"));
    std::fs::write(&file, toml).unwrap();
    fleet
        .cmd()
        .args(["tenants", "profile", "set", tenant])
        .arg(&file)
        .output()
        .unwrap()
}

fn create_tenant(fleet: &Fleet, tenant: &str) {
    ok(fleet
        .cmd()
        .args(["tenants", "create", tenant])
        .output()
        .unwrap());
}

fn enqueue_as(fleet: &Fleet, tenant: &str, path: &Path) -> String {
    let out = ok(fleet
        .cmd()
        .env("DOCFLEET_TENANT", tenant)
        .args(["enqueue", "--json"])
        .arg(path)
        .output()
        .unwrap());
    json(&out)["jobs"][0]["job_id"].as_str().unwrap().to_owned()
}

fn wait_finished(fleet: &Fleet, id: &str) -> Value {
    fleet.wait_for(&format!("job {id}"), Duration::from_secs(120), |jobs| {
        jobs.iter()
            .any(|j| j["job_id"] == id && (j["state"] == "succeeded" || j["state"] == "dead"))
    });
    fleet.job(id)
}

/// The manifests under the data dir's object store, parsed.
fn manifests_of(data: &Path) -> Vec<Value> {
    walk(&data.join("objects"))
        .into_iter()
        .filter(|p| p.ends_with("manifest.json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn profiles_are_validated_versioned_and_shown_without_secrets() {
    let fleet = Fleet::new(Kind::LocalSqlite, "profile-cli");
    create_tenant(&fleet, "acme");
    let bad = set_profile(&fleet, "acme", "[chunk]\nmax_token = 100\n");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("max_token"), "the unknown key is named: {err}");
    let nobody = set_profile(&fleet, "nobody", "");
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no tenant"));

    let example = std::fs::read_to_string(fixtures().join("profiles/example.toml")).unwrap();
    let set = ok(set_profile(&fleet, "acme", &example));
    assert!(String::from_utf8_lossy(&set.stderr).contains("profile v1"));
    let set = ok(set_profile(&fleet, "acme", "[chunk]\nmax_tokens = 100\n"));
    assert!(String::from_utf8_lossy(&set.stderr).contains("profile v2"));
    let shown = json(&ok(fleet
        .cmd()
        .args(["tenants", "profile", "show", "acme", "--json"])
        .output()
        .unwrap()));
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["profile"]["chunk"]["max_tokens"], 100);
    assert_eq!(shown["created_by"], "cli");

    ok(set_profile(&fleet, "acme", &example));
    let text = String::from_utf8_lossy(
        &ok(fleet
            .cmd()
            .args(["tenants", "profile", "show", "acme"])
            .output()
            .unwrap())
        .stdout,
    )
    .into_owned();
    assert!(text.contains("profile v3"), "{text}");
    assert!(
        !text.contains("change-me"),
        "the webhook secret is hidden: {text}"
    );
}

#[test]
fn workers_apply_a_new_profile_version_without_restart_and_reprocess_once() {
    let fleet = Fleet::new(Kind::LocalSqlite, "profile-worker");
    create_tenant(&fleet, "acme");
    ok(set_profile(
        &fleet,
        "acme",
        "[chunk]\nmax_tokens = 64\noverlap_tokens = 8\n[pii]\nmode = \"detect\"\n",
    ));
    let doc = fixtures().join("docs/honeybee-swarms.txt");
    let mut worker = fleet.spawn_worker("w1", &[("DOCFLEET_PROFILE_TTL_SECS", "1")]);

    let first = wait_finished(&fleet, &enqueue_as(&fleet, "acme", &doc));
    assert_eq!(first["state"], "succeeded", "{first:#}");
    assert_eq!(first["profile_version"], 1, "{first:#}");
    assert!(
        first["pii_counts"].is_object(),
        "detect records counts: {first:#}"
    );
    let small_chunks = first["chunks"].as_u64().unwrap();

    // A new version reaches the running worker within the TTL.
    ok(set_profile(
        &fleet,
        "acme",
        "[chunk]\nmax_tokens = 200\noverlap_tokens = 8\n",
    ));
    std::thread::sleep(Duration::from_millis(1500));
    let second = wait_finished(&fleet, &enqueue_as(&fleet, "acme", &doc));
    assert_eq!(second["state"], "succeeded", "{second:#}");
    assert_eq!(second["profile_version"], 2, "{second:#}");
    assert!(
        second["chunks"].as_u64().unwrap() < small_chunks,
        "re-chunked with the new size: {first:#} {second:#}"
    );
    assert!(
        second.get("pii_counts").is_none(),
        "PII off now: {second:#}"
    );

    // Same bytes, same profile: nothing redone.
    let third = wait_finished(&fleet, &enqueue_as(&fleet, "acme", &doc));
    assert_eq!(third["state"], "succeeded");
    assert_eq!(third["chunks"], second["chunks"]);

    // Source prefixes: a document outside them fails, named, permanently.
    ok(set_profile(
        &fleet,
        "acme",
        "[sources]\nallowed_prefixes = [\"file:///nowhere/\"]\n",
    ));
    std::thread::sleep(Duration::from_millis(1500));
    let refused = wait_finished(&fleet, &enqueue_as(&fleet, "acme", &doc));
    assert_eq!(refused["state"], "dead", "{refused:#}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("honeybee-swarms.txt") && error.contains("allowed source prefixes"),
        "{error}"
    );
    worker.signal("-TERM");
    assert!(worker.wait(Duration::from_secs(60)).success());
    let log = worker.log_text();
    assert_eq!(
        log.matches("Unchanged").count(),
        1,
        "only the third job was a no-op:\n{log}"
    );
    let versions: Vec<String> = manifests_of(fleet.data_dir())
        .iter()
        .map(|m| m["pipeline_version"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        versions.iter().all(|v| v.ends_with("-prof2")),
        "the manifest is the profile v2 version: {versions:?}"
    );
}

#[test]
fn each_model_has_its_own_index_and_the_budget_unloads_idle_models() {
    let fleet = Fleet::new(Kind::LocalSqlite, "profile-models");
    let model_dir = docfleet_models::default_model_dir();
    let weights = std::fs::metadata(model_dir.join("model.safetensors"))
        .unwrap()
        .len();
    create_tenant(&fleet, "alpha");
    create_tenant(&fleet, "beta");
    ok(set_profile(&fleet, "beta", "model = \"mini2\"\n"));
    let unknown = set_profile(&fleet, "alpha", "model = \"Bad Name\"\n");
    assert!(!unknown.status.success());
    let models = format!("mini2={}", model_dir.display());
    // Room for one model at a time: beta's job unloads the default model, alpha's the other.
    let budget = (weights + weights / 2).to_string();
    let env = [
        ("DOCFLEET_MODELS", models.as_str()),
        ("DOCFLEET_MODEL_MEMORY_BUDGET_BYTES", budget.as_str()),
        ("DOCFLEET_CONCURRENCY", "1"),
    ];
    let doc = fixtures().join("docs/ocean-tides.html");
    let a = enqueue_as(&fleet, "alpha", &doc);
    let b = enqueue_as(&fleet, "beta", &doc);
    let mut w = fleet.spawn_worker("w1", &env);
    assert_eq!(wait_finished(&fleet, &a)["state"], "succeeded");
    assert_eq!(wait_finished(&fleet, &b)["state"], "succeeded");
    let marathon = fixtures().join("docs/marathon-training.md");
    let again = wait_finished(&fleet, &enqueue_as(&fleet, "alpha", &marathon));
    assert_eq!(again["state"], "succeeded", "{again:#}");
    w.signal("-TERM");
    assert!(w.wait(Duration::from_secs(60)).success());
    let log = w.log_text();
    assert!(
        log.matches("model unloaded to make room").count() >= 2,
        "the budget held one model at a time:\n{log}"
    );

    // beta's vectors are in the mini2 index only; each tenant's search reads its model's.
    assert!(fleet.data_dir().join("index-mini2").is_dir());
    let search_as = |tenant: &str| -> Vec<Value> {
        let out = ok(fleet
            .cmd()
            .env("DOCFLEET_TENANT", tenant)
            .env("DOCFLEET_MODELS", &models)
            .args(["search", "high and low water", "--json"])
            .output()
            .unwrap());
        json(&out).as_array().unwrap().clone()
    };
    let beta = search_as("beta");
    assert!(!beta.is_empty());
    assert!(
        beta.iter()
            .all(|h| h["source"].as_str().unwrap().ends_with("ocean-tides.html"))
    );
    let alpha = search_as("alpha");
    assert!(alpha.iter().any(|h| {
        h["source"]
            .as_str()
            .unwrap()
            .ends_with("marathon-training.md")
    }));
    // The default index holds no beta points (stats reads the default model's index).
    let stats = ok(fleet.cmd().args(["stats", "--json"]).output().unwrap());
    let tenants: Vec<String> = json(&stats)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tenants, ["alpha"], "default index: {tenants:?}");

    // The API searches the caller's tenant's model's index too.
    let beta_key = cli(&fleet, &["keys", "create", "beta"]);
    let api = start_api(&fleet, "api", &[("DOCFLEET_MODELS", models.as_str())]);
    let found = api.post(
        "/v1/search",
        &beta_key,
        &serde_json::json!({"query": "high and low water", "top_k": 3}),
        &[],
    );
    assert_eq!(found.status, 200, "{}", found.body);
    let results = found.json()["results"].as_array().unwrap().clone();
    assert!(!results.is_empty(), "{}", found.body);
    assert!(
        results
            .iter()
            .all(|h| h["source"].as_str().unwrap().ends_with("ocean-tides.html")),
        "{}",
        found.body
    );
}

#[test]
fn gc_removes_documents_past_their_tenants_retention() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("jobs.sqlite");
    let store = store.to_str().unwrap();
    let cli = |args: &[&str]| {
        ok(docfleet(data.path())
            .env("DOCFLEET_JOB_STORE_URL", store)
            .args(args)
            .output()
            .unwrap())
    };
    cli(&["tenants", "create", "keep"]);
    cli(&["tenants", "create", "expire"]);
    let profile = data.path().join("retention.toml");
    std::fs::write(&profile, "[retention]\ndays = 30\n").unwrap();
    cli(&[
        "tenants",
        "profile",
        "set",
        "expire",
        profile.to_str().unwrap(),
    ]);
    let docs = fixtures().join("docs");
    for tenant in ["keep", "expire"] {
        let (out, _) = run_json(
            data.path(),
            &["--tenant", tenant],
            &[
                &docs.join("honeybee-swarms.txt"),
                &docs.join("ocean-tides.html"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Age one of expire's documents (and one of keep's) past 30 days.
    let mut aged = 0;
    for path in walk(&data.path().join("objects")) {
        if !path.ends_with("manifest.json") {
            continue;
        }
        let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if m["source"]
            .as_str()
            .unwrap()
            .ends_with("honeybee-swarms.txt")
        {
            m["completed_at_unix_secs"] = Value::from(1_000_000_000u64);
            std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
            aged += 1;
        }
    }
    assert_eq!(aged, 2);
    let dry = json(&cli(&["gc", "--dry-run", "--json"]));
    assert_eq!(dry["tenants"][0]["tenant"], "expire");
    assert_eq!(dry["tenants"][0]["removed"].as_array().unwrap().len(), 1);
    assert_eq!(manifests(data.path()), 4, "a dry run removes nothing");

    let done = json(&cli(&["gc", "--json"]));
    let t = &done["tenants"][0];
    assert_eq!(t["documents_kept"], 1, "{done:#}");
    assert!(t["points_deleted"].as_u64().unwrap() > 0, "{done:#}");
    assert_eq!(manifests(data.path()), 3);
    let hits = search(
        data.path(),
        "bees leaving the hive with their queen",
        &["--tenant", "expire"],
    );
    assert!(
        hits.iter().all(|h| !h["source"]
            .as_str()
            .unwrap()
            .ends_with("honeybee-swarms.txt")),
        "expired vectors are gone: {hits:#?}"
    );
    let kept = search(
        data.path(),
        "bees leaving the hive with their queen",
        &["--tenant", "keep"],
    );
    assert!(kept.iter().any(|h| {
        h["source"]
            .as_str()
            .unwrap()
            .ends_with("honeybee-swarms.txt")
    }));
}

#[test]
fn the_profile_api_is_for_admin_keys_of_the_same_tenant() {
    let fleet = Fleet::new(Kind::LocalSqlite, "profile-api");
    cli(&fleet, &["tenants", "create", "acme"]);
    cli(&fleet, &["tenants", "create", "globex"]);
    let member = cli(&fleet, &["keys", "create", "acme"]);
    let admin = cli(&fleet, &["keys", "create", "acme", "--admin"]);
    let b_admin = cli(&fleet, &["keys", "create", "globex", "--admin"]);
    let api = start_api(&fleet, "api", &[("DOCFLEET_PROFILE_TTL_SECS", "0")]);
    let put = |key: &str, body: &str, ctype: &str| {
        api.call(
            "PUT",
            "/v1/profile",
            Some(key),
            None,
            &[&format!("content-type: {ctype}"), "--data-binary", body],
        )
    };

    api.get("/v1/profile", &admin).assert_problem(404);
    api.get("/v1/profile", &member).assert_problem(403);
    put(&member, "{}", "application/json").assert_problem(403);
    let bad = put(
        &admin,
        r#"{"chunk":{"max_tokens":100,"colour":1}}"#,
        "application/json",
    );
    bad.assert_problem(422);
    assert!(bad.body.contains("colour"), "{}", bad.body);
    put(&admin, r#"{"model":"nope"}"#, "application/json").assert_problem(422);

    let toml = "[sources]\nallowed_prefixes = [\"s3://inbox/acme/\"]\n[webhook]\nsecret = \"acme-secret-0123456789\"\n";
    let stored = put(&admin, toml, "application/toml");
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(stored.json()["version"], 1);
    let shown = api.get("/v1/profile", &admin);
    assert_eq!(shown.status, 200, "{}", shown.body);
    let shown = shown.json();
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["created_by"], format!("key:{}", &admin[4..16]));
    assert_eq!(shown["profile"]["webhook"]["secret"], "***");

    // Tenant B: neither sees nor changes A's profile.
    api.get("/v1/profile", &b_admin).assert_problem(404);
    let b = put(
        &b_admin,
        r#"{"chunk":{"max_tokens":99}}"#,
        "application/json",
    );
    assert_eq!(b.json()["version"], 1, "globex's own first version");
    let a = api.get("/v1/profile", &admin).json();
    assert_eq!(a["version"], 1);
    assert!(a["profile"].get("chunk").is_none(), "A unchanged: {a:#}");

    // Submits outside the prefixes are refused at the door, inside accepted.
    let refused = api.post(
        "/v1/jobs",
        &member,
        &serde_json::json!({"source": "s3://inbox/globex/a.pdf"}),
        &[],
    );
    refused.assert_problem(403);
    assert!(
        refused.body.contains("allowed source prefixes"),
        "{}",
        refused.body
    );
    let accepted = api.post(
        "/v1/jobs",
        &member,
        &serde_json::json!({"source": "s3://inbox/acme/a.pdf"}),
        &[],
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
}

#[test]
fn a_profile_webhook_is_signed_with_the_tenants_secret_and_ocr_follows_the_profile() {
    let fleet = Fleet::new(Kind::LocalSqlite, "profile-hook");
    let (url, hooks) = support::receiver::start(0);
    cli(&fleet, &["tenants", "create", "acme"]);
    let secret = "acme-hook-secret-0123";
    ok(set_profile(
        &fleet,
        "acme",
        &format!("[webhook]\nurl = \"{url}/hook\"\nsecret = \"{secret}\"\n[ocr]\nmode = \"off\"\n"),
    ));
    let text = enqueue_as(&fleet, "acme", &fixtures().join("docs/honeybee-swarms.txt"));
    let image = enqueue_as(&fleet, "acme", &fixtures().join("ocr/receipt.png"));
    let w = fleet.run_worker_until_idle("w1");
    assert_eq!(fleet.job(&text)["state"], "succeeded", "{}", w.log_text());
    let dead = fleet.job(&image);
    assert_eq!(
        dead["state"], "dead",
        "OCR is off for this tenant: {dead:#}"
    );
    assert!(
        dead["error"].as_str().unwrap().contains("receipt.png"),
        "{dead:#}"
    );
    let mut events = Vec::new();
    for h in support::receiver::next_requests(&hooks, 2, Duration::from_secs(30)) {
        assert_eq!(h.path, "/hook");
        h.assert_signed_with(secret, "the tenant's secret signs");
        events.push(serde_json::from_slice::<Value>(&h.body).unwrap()["event"].clone());
    }
    events.sort_by_key(|e| e.to_string());
    assert_eq!(events, ["job.dead", "job.succeeded"]);
}
