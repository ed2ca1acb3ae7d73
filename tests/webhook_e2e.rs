//! Completion webhooks end to end: jobs enqueued with a callback URL, run by a real worker;
//! every event is signed (checked by an independent HMAC) and a refused one is sent again with
//! the same delivery id and body.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use serde_json::Value;
use support::fixtures;
use support::fleet::{Fleet, Kind};
use support::receiver::{self, Request as Hook};

#[test]
fn completion_webhooks_are_signed_and_retried() {
    let fleet = Fleet::new(Kind::LocalSqlite, "hooks");
    // Its first request is answered 500.
    let (base, hooks) = receiver::start(1);
    let url = format!("{base}/hooks/docfleet");
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
    let got: Vec<Hook> = receiver::next_requests(&hooks, 3, Duration::from_secs(120));
    assert!(
        worker.wait(Duration::from_secs(120)).success(),
        "{}",
        worker.log_text()
    );

    // The refused one came again with the same delivery id and body (maybe after the other).
    let retried: Vec<&Hook> = got[1..]
        .iter()
        .filter(|h| h.delivery_id() == got[0].delivery_id())
        .collect();
    assert_eq!(retried.len(), 1, "a retry keeps its delivery id");
    assert_eq!(retried[0].body, got[0].body);
    let mut events = Vec::new();
    for h in &got[1..] {
        h.assert_signed_with(secret, "signature");
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
