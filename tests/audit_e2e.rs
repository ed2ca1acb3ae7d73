//! The audit trail end to end: a real `docfleet api` on SQLite and on PostgreSQL, tenants and
//! keys made with the CLI, HTTP through curl.
//!
//! A submit, a search, a delete and key create/revoke over the API each leave exactly the
//! expected record (action, key, target, outcome, status, the request id of the response
//! header); tenant B's admin key sees none of A's records and cannot revoke A's keys; member
//! keys get 403 on /v1/audit and /v1/keys; `docfleet audit` lists the same records.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::{Value, json};
use support::api::{Api, cli, start_api};
use support::fixture_uri as uri;
use support::fleet::{Fleet, Kind};

/// The key id of a `dfk_<key_id>_<secret>` token.
fn key_id(token: &str) -> &str {
    &token[4..16]
}

/// Every record of the admin key's tenant, newest first, following `next_before`.
fn all_records(api: &Api, admin: &str, page: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/v1/audit?limit={page}");
    loop {
        let reply = api.get(&path, admin);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        out.extend(body["records"].as_array().unwrap().iter().cloned());
        match body["next_before"].as_i64() {
            Some(before) => path = format!("/v1/audit?limit={page}&before={before}"),
            None => return out,
        }
    }
}

/// The records made through the API (the CLI's have key id `cli`), newest first.
fn api_records(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["key_id"] != "cli").collect()
}

fn assert_record(
    r: &Value,
    (action, key, target, outcome, status, request): (&str, &str, Option<&str>, &str, u16, &str),
) {
    assert_eq!(r["action"], action, "{r}");
    assert_eq!(r["key_id"], key, "{r}");
    assert_eq!(r["target"].as_str(), target, "{r}");
    assert_eq!(r["outcome"], outcome, "{r}");
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["request_id"], request, "{r}");
    assert!(
        r["seq"].as_i64().is_some() && r["at_ms"].as_i64().unwrap() > 0,
        "{r}"
    );
}

fn audit_trail(kind: Kind) {
    let fleet = Fleet::new(kind, "audit");
    cli(&fleet, &["tenants", "create", "acme"]);
    cli(&fleet, &["tenants", "create", "globex"]);
    let member = cli(&fleet, &["keys", "create", "acme", "--label", "member"]);
    let admin = cli(&fleet, &["keys", "create", "acme", "--admin"]);
    let b_admin = cli(&fleet, &["keys", "create", "globex", "--admin"]);
    // A search or delete without a model or index may answer 503, and is recorded all the same:
    // every status is checked below.
    let api = start_api(
        &fleet,
        "api",
        &[("DOCFLEET_API_ALLOW_FILE_SOURCES", "true")],
    )
    .tolerating_server_errors();

    // A submit, with the caller's request id.
    let submit = api.post(
        "/v1/jobs",
        &member,
        &json!({"source": uri("honeybee-swarms.txt")}),
        &["X-Request-Id: e2e-submit-1"],
    );
    assert_eq!(submit.status, 202, "{}", submit.body);
    assert_eq!(submit.request_id(), "e2e-submit-1", "a sane id is kept");
    let job_id = submit.json()["job_id"].as_str().unwrap().to_owned();

    // A search (no index yet: whatever it answers, it is recorded), with an id that is not sane.
    let search = api.post(
        "/v1/search",
        &member,
        &json!({"query": "alice's private question", "mode": "keyword", "top_k": 3}),
        &["X-Request-Id: two words"],
    );
    let search_id = search.request_id();
    assert_ne!(search_id, "two words");
    assert_eq!(
        uuid::Uuid::parse_str(&search_id).unwrap().get_version_num(),
        4,
        "an id that is not sane is replaced by a UUIDv4"
    );

    // A delete of a document that is not there.
    let doc = "0123456789abcdef0123456789abcdef";
    let delete = api.delete(&format!("/v1/documents/{doc}"), &member);
    assert_ne!(delete.status / 100, 2, "{}", delete.body);

    // Keys over the API: an admin key creates a member key, which works, then revokes it.
    let created = api.post(
        "/v1/keys",
        &admin,
        &json!({"label": "made over the API", "role": "member"}),
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let made = created.json();
    let token = made["key"].as_str().unwrap().to_owned();
    let made_id = made["key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_id(&token), made_id);
    assert_eq!(
        (made["role"].as_str(), made["tenant"].as_str()),
        (Some("member"), Some("acme"))
    );
    assert_eq!(api.get("/v1/jobs", &token).status, 200, "the new key works");
    let keys = api.get("/v1/keys", &admin);
    assert_eq!(keys.status, 200, "{}", keys.body);
    let listed = keys.json();
    let listed = listed["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|k| k["tenant"] == "acme"), "{listed:?}");
    assert!(
        !keys.body.contains(&token[17..]) && !keys.body.contains("secret"),
        "no secrets: {}",
        keys.body
    );
    let revoked = api.delete(&format!("/v1/keys/{made_id}"), &admin);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.json()["revoked_at_ms"].as_i64().is_some());
    api.get("/v1/jobs", &token).assert_problem(401);
    api.delete(&format!("/v1/keys/{made_id}"), &admin)
        .assert_problem(404);

    // Member keys: no audit trail, no key management (403, and the refused create is recorded).
    api.get("/v1/audit", &member).assert_problem(403);
    api.get("/v1/keys", &member).assert_problem(403);
    let refused = api.post("/v1/keys", &member, &json!({"role": "admin"}), &[]);
    refused.assert_problem(403);

    // No valid key: 401, and nothing recorded (no tenant to record it under).
    api.post(
        "/v1/jobs",
        "dfk_000000000000_0000000000000000000000000000000000000000000000000000000000000000",
        &json!({"source": uri("ocean-tides.html")}),
        &[],
    )
    .assert_problem(401);

    // Tenant B: cannot revoke A's key (404, and it still works), sees none of A's records.
    let b_revoke = api.delete(&format!("/v1/keys/{}", key_id(&member)), &b_admin);
    b_revoke.assert_problem(404);
    assert_eq!(
        api.get("/v1/jobs", &member).status,
        200,
        "A's key still works"
    );
    let b_keys = api.get("/v1/keys", &b_admin).json();
    assert_eq!(b_keys["keys"].as_array().unwrap().len(), 1, "{b_keys}");
    let b_records = all_records(&api, &b_admin, 1000);
    assert!(
        b_records.iter().all(|r| r["tenant"] == "globex"),
        "{b_records:#?}"
    );
    let b_api = api_records(&b_records);
    assert_eq!(b_api.len(), 1, "{b_records:#?}");
    assert_record(
        b_api[0],
        (
            "key.revoke",
            key_id(&b_admin),
            Some(key_id(&member)),
            "error",
            404,
            &b_revoke.request_id(),
        ),
    );
    let b_cli: Vec<&str> = b_records
        .iter()
        .filter(|r| r["key_id"] == "cli")
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(b_cli, ["key.create", "tenant.create"]);

    // A's trail: exactly the calls above, newest first, with the ids of the responses.
    let records = all_records(&api, &admin, 1000);
    assert!(
        records.iter().all(|r| r["tenant"] == "acme"),
        "{records:#?}"
    );
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    let mine = api_records(&records);
    assert_eq!(mine.len(), 7, "{records:#?}");
    let (m, a) = (key_id(&member), key_id(&admin));
    assert_record(
        mine[0],
        ("key.create", m, None, "denied", 403, &refused.request_id()),
    );
    let second_revoke = mine[1];
    assert_eq!(
        (
            second_revoke["action"].as_str(),
            second_revoke["outcome"].as_str()
        ),
        (Some("key.revoke"), Some("error"))
    );
    assert_eq!(second_revoke["status"], 404);
    assert_record(
        mine[2],
        (
            "key.revoke",
            a,
            Some(&made_id),
            "ok",
            200,
            &revoked.request_id(),
        ),
    );
    assert_record(
        mine[3],
        (
            "key.create",
            a,
            Some(&made_id),
            "ok",
            201,
            &created.request_id(),
        ),
    );
    assert_record(
        mine[4],
        (
            "document.delete",
            m,
            Some(doc),
            "error",
            delete.status,
            &delete.request_id(),
        ),
    );
    let search_outcome = if search.status / 100 == 2 {
        "ok"
    } else {
        "error"
    };
    assert_record(
        mine[5],
        ("search", m, None, search_outcome, search.status, &search_id),
    );
    let detail: Value = serde_json::from_str(mine[5]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail, json!({"mode": "keyword", "top_k": 3}));
    assert!(
        !records
            .iter()
            .any(|r| r.to_string().contains("private question")),
        "the query text is never recorded"
    );
    assert_record(
        mine[6],
        ("job.submit", m, Some(&job_id), "ok", 202, "e2e-submit-1"),
    );
    let acme_cli: Vec<&str> = records
        .iter()
        .filter(|r| r["key_id"] == "cli")
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(acme_cli, ["key.create", "key.create", "tenant.create"]);

    // Paging: small pages add up to the same list; the action filter.
    assert_eq!(all_records(&api, &admin, 2), records);
    let searches = api.get("/v1/audit?action=search", &admin).json();
    let searches = searches["records"].as_array().unwrap();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0]["request_id"], search_id.as_str());
    let first = api.get("/v1/audit?limit=3", &admin).json();
    assert_eq!(first["records"].as_array().unwrap().len(), 3);
    assert_eq!(first["next_before"], records[2]["seq"]);
    for bad in ["limit=0", "limit=1001", "before=x", "action=", "nope=1"] {
        api.get(&format!("/v1/audit?{bad}"), &admin)
            .assert_problem(400);
    }

    // The CLI lists the same records: one JSON object per line.
    let lines = cli(
        &fleet,
        &["audit", "--tenant", "acme", "--json", "--limit", "1000"],
    );
    let from_cli: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_cli, records);
    let revokes = cli(
        &fleet,
        &[
            "audit",
            "--tenant",
            "acme",
            "--action",
            "key.revoke",
            "--json",
        ],
    );
    assert_eq!(revokes.lines().count(), 2, "{revokes}");
    let everyone = cli(
        &fleet,
        &["audit", "--all-tenants", "--json", "--limit", "1000"],
    );
    assert_eq!(everyone.lines().count(), records.len() + b_records.len());
    let page = cli(
        &fleet,
        &[
            "audit",
            "--tenant",
            "acme",
            "--json",
            "--limit",
            "2",
            "--before",
            &records[1]["seq"].to_string(),
        ],
    );
    let page: Vec<Value> = page
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(page, records[2..4]);
    let table = cli(&fleet, &["audit", "--tenant", "acme"]);
    assert!(table.starts_with("SEQ  TIME (UTC)"), "{table}");
    assert!(
        table.contains("e2e-submit-1") && table.contains(&job_id),
        "{table}"
    );

    // The CLI's own key changes are recorded too (key id `cli`, a fresh request id).
    cli(&fleet, &["keys", "revoke", key_id(&member)]);
    let last = cli(
        &fleet,
        &["audit", "--tenant", "acme", "--json", "--limit", "1"],
    );
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        (
            last["action"].as_str(),
            last["key_id"].as_str(),
            last["target"].as_str()
        ),
        (Some("key.revoke"), Some("cli"), Some(key_id(&member)))
    );
    assert_eq!(last["outcome"], "ok");
    assert!(uuid::Uuid::parse_str(last["request_id"].as_str().unwrap()).is_ok());
    assert_eq!(last["status"], Value::Null);

    // A profile change (PUT /v1/profile, audited by route), and a member key's refused one.
    let set = api.call(
        "PUT",
        "/v1/profile",
        Some(&admin),
        Some(&json!({}).to_string()),
        &[],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let version = set.json()["version"].as_i64().unwrap();
    let denied = api.call(
        "PUT",
        "/v1/profile",
        Some(&member_2(&fleet)),
        Some(&json!({}).to_string()),
        &[],
    );
    denied.assert_problem(403);
    let sets = api.get("/v1/audit?action=profile.set", &admin).json();
    let sets = sets["records"].as_array().unwrap();
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert_eq!(
        (sets[0]["outcome"].as_str(), sets[0]["status"].as_u64()),
        (Some("denied"), Some(403))
    );
    assert_eq!(sets[0]["request_id"], denied.request_id().as_str());
    assert_record(
        &sets[1],
        (
            "profile.set",
            a,
            Some(format!("profile v{version}").as_str()),
            "ok",
            200,
            &set.request_id(),
        ),
    );
}

/// Another member key of acme (the first one is revoked by now).
fn member_2(fleet: &Fleet) -> String {
    cli(fleet, &["keys", "create", "acme", "--label", "member 2"])
}

#[test]
fn audit_trail_on_sqlite() {
    audit_trail(Kind::LocalSqlite);
}

#[test]
fn audit_trail_on_postgres() {
    audit_trail(Kind::LocalPostgres);
}
