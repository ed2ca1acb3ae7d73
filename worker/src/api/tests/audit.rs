//! The audit trail in process: every audited call with a verified key leaves one record (its
//! action, key, target, outcome, status and request id), calls without one leave none, and
//! `GET /v1/audit` pages the tenant's records for its admin keys.

use serde_json::{Value, json};

use super::{TestApi, UNKNOWN_KEY};

/// Every record of the admin key's tenant, newest first.
async fn records(api: &TestApi, admin: &str) -> Vec<Value> {
    let page = api
        .get("/v1/audit?limit=1000", admin)
        .await
        .expect_json(200);
    assert!(page.get("next_before").is_none(), "{page}");
    page["records"].as_array().unwrap().clone()
}

#[tokio::test]
async fn audited_calls_are_recorded_with_their_request_id() {
    let api = TestApi::with_flags(&["--api-allow-file-sources"]).await;
    let member = api.member("acme").await;
    let admin = api.admin("acme").await;
    let submit = json!({"source": "file:///docs/a.pdf"});
    let job = api
        .post_with("/v1/jobs", &member, ("x-request-id", "submit-1"), &submit)
        .await
        .expect_json(202);
    let search = json!({"query": "alice's private question", "mode": "keyword", "top_k": 0});
    let refused_search = api.post("/v1/search", &member, &search).await;
    refused_search.assert_problem(400);
    api.post("/v1/keys", &member, &json!({}))
        .await
        .assert_problem(403);
    // No verified key: no tenant to record it under.
    let anonymous = json!({"source": "file:///docs/b.pdf"});
    api.post("/v1/jobs", UNKNOWN_KEY, &anonymous)
        .await
        .assert_problem(401);
    // Reads are not recorded.
    api.get("/v1/jobs", &member).await.expect_json(200);

    let all = records(&api, &admin).await;
    let summary: Vec<(&str, &str, u64)> = all
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("key.create", "denied", 403),
            ("search", "error", 400),
            ("job.submit", "ok", 202),
        ],
        "{all:#?}"
    );
    assert!(all.iter().all(|r| r["key_id"] == member[4..16]), "{all:#?}");
    assert!(all.iter().all(|r| r["tenant"] == "acme"), "{all:#?}");
    assert_eq!(all[2]["request_id"], "submit-1");
    assert_eq!(all[2]["target"], job["job_id"]);
    assert_eq!(
        all[1]["request_id"],
        refused_search.header("x-request-id").unwrap()
    );
    let detail: Value = serde_json::from_str(all[1]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail, json!({"mode": "keyword", "top_k": 0}));
    assert!(
        !all.iter()
            .any(|r| r.to_string().contains("private question")),
        "the query text is never recorded"
    );

    // Another tenant's admin sees none of it.
    let b_admin = api.admin("globex").await;
    assert_eq!(records(&api, &b_admin).await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_trail_is_paged_newest_first_and_filtered_by_action() {
    let api = TestApi::new().await;
    let admin = api.admin("acme").await;
    for label in ["k1", "k2", "k3", "k4"] {
        api.post("/v1/keys", &admin, &json!({"label": label}))
            .await
            .expect_json(201);
    }
    let bad_search = json!({"query": " "});
    api.post("/v1/search", &admin, &bad_search)
        .await
        .assert_problem(400);
    let all = records(&api, &admin).await;
    assert_eq!(all.len(), 5);
    let seqs: Vec<i64> = all.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );

    let mut paged = Vec::new();
    let mut path = "/v1/audit?limit=2".to_owned();
    loop {
        let page = api.get(&path, &admin).await.expect_json(200);
        paged.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/v1/audit?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(paged, all, "small pages add up to the same list");
    let keys = api
        .get("/v1/audit?action=key.create", &admin)
        .await
        .expect_json(200);
    assert_eq!(keys["records"].as_array().unwrap().len(), 4);
    for bad in ["limit=0", "limit=1001", "before=x", "action=", "nope=1"] {
        api.get(&format!("/v1/audit?{bad}"), &admin)
            .await
            .assert_problem(400);
    }
    let long_action = format!("/v1/audit?action={}", "a".repeat(65));
    api.get(&long_action, &admin).await.assert_problem(400);
}
