//! The worker fleet end to end: real `docfleet worker` processes, the real model and PDFium,
//! and each queue/store pair: RabbitMQ + PostgreSQL, SQS (moto) + PostgreSQL, Kafka (librdkafka's
//! mock cluster, in the test process) + PostgreSQL, the job table on SQLite, the job table on
//! PostgreSQL. Run by `cargo test` (the test command starts PostgreSQL and RabbitMQ).
//!
//! Scenarios (one function each, run for every pair):
//! - fifty documents plus poison (a corrupt PDF, a source deleted after enqueue, and with a broker
//!   a malformed message): every good job succeeds, each poison is dead with a reason naming
//!   the document and the cause, the queue is empty, the index holds exactly the expected
//!   points, and /healthz, /readyz, /metrics tell the same story;
//!   Then `docfleet redrive` with the vanished source restored: it succeeds, the corrupt PDF is
//!   dead again;
//! - kill -9 of a worker mid-job: a second worker takes the job over and completes it;
//! - the broker (or the store's database) drops every connection mid-run: nothing is lost (for
//!   the pairs with a server: not the SQLite job table);
//! - SIGTERM mid-job with a drain timeout shorter than the job: exit 0, the job is given back
//!   and completed by the next worker; SIGTERM with time enough: the job finishes first.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use serde_json::Value;
use support::corpus::{slow_pdf, small_docs};
use support::fleet::{Fleet, Kind};
use support::{fixtures, n};

fn by_state<'a>(jobs: &'a [Value], state: &str) -> Vec<&'a Value> {
    jobs.iter().filter(|j| j["state"] == state).collect()
}

/// Every job finished (succeeded or dead).
fn all_finished(jobs: &[Value]) -> bool {
    jobs.iter()
        .all(|j| j["state"] == "succeeded" || j["state"] == "dead")
}

/// Chunks recorded by succeeded jobs = points in the index; one manifest per document.
fn assert_points_match(fleet: &Fleet, distinct_docs: usize) {
    let jobs = fleet.jobs();
    let chunks: u64 = by_state(&jobs, "succeeded")
        .iter()
        .map(|j| n(j, "chunks"))
        .sum();
    assert_eq!(
        fleet.points(),
        chunks,
        "points in the index vs chunks of the jobs"
    );
    assert_eq!(support::manifests(fleet.data_dir()), distinct_docs);
}

fn fifty_documents_and_poison(kind: Kind) {
    let fleet = Fleet::new(kind, "fifty");
    let docs = fleet.data_dir().join("docs");
    small_docs(&docs, 45);
    for pdf in [
        "sourdough-fermentation.pdf",
        "kafka-consumer-groups.pdf",
        "volcanic-eruptions.pdf",
        "history-of-lighthouses.pdf",
        "chess-openings.pdf",
    ] {
        std::fs::copy(fixtures().join("docs").join(pdf), docs.join(pdf)).unwrap();
    }
    let poison = fleet.data_dir().join("poison");
    std::fs::create_dir_all(&poison).unwrap();
    std::fs::copy(
        fixtures().join("bad/corrupt.pdf"),
        poison.join("corrupt.pdf"),
    )
    .unwrap();
    std::fs::write(
        poison.join("vanished.txt"),
        "deleted before a worker sees it",
    )
    .unwrap();

    assert_eq!(fleet.enqueue(&[&docs]).len(), 50);
    fleet.enqueue(&[&poison]);
    std::fs::remove_file(poison.join("vanished.txt")).unwrap();
    if kind.has_broker() {
        fleet.publish_malformed();
    }

    let mut worker = fleet.spawn_worker("e2e-a", &[("DOCFLEET_CONCURRENCY", "4")]);
    assert_eq!(worker.get("/healthz").0, 200);
    fleet.wait_for("all jobs to finish", Duration::from_secs(240), all_finished);
    let (code, body) = worker.get("/readyz");
    assert_eq!(code, 200, "{body}");
    let (code, metrics) = worker.get("/metrics");
    assert_eq!(code, 200);
    for want in [
        "docfleet_jobs_total{outcome=\"succeeded\"} 50",
        "docfleet_dead_letters_total{reason=\"permanent\"} 2",
        "docfleet_jobs_in_flight 0",
        "docfleet_lane_duration_seconds_count{lane=\"embed\"} 50",
    ] {
        assert!(metrics.contains(want), "missing {want:?} in\n{metrics}");
    }
    if kind.has_broker() {
        assert!(metrics.contains("docfleet_dead_letters_total{reason=\"malformed\"} 1"));
    }
    worker.signal("-TERM");
    assert!(worker.wait(Duration::from_secs(30)).success());
    let log = worker.log_text();

    let jobs = fleet.jobs();
    assert_eq!(by_state(&jobs, "succeeded").len(), 50, "{jobs:#?}");
    let dead = by_state(&jobs, "dead");
    assert_eq!(dead.len(), 2, "{jobs:#?}");
    for (file, cause) in [
        ("corrupt.pdf", "corrupt or unreadable PDF"),
        ("vanished.txt", "source not found"),
    ] {
        let job = dead
            .iter()
            .find(|j| j["source"].as_str().unwrap().ends_with(file))
            .unwrap();
        let error = job["error"].as_str().unwrap();
        assert!(error.contains(file) && error.contains(cause), "{error}");
        assert_eq!(job["attempts"], 1, "a permanent error is not retried");
    }
    for job in by_state(&jobs, "succeeded") {
        assert!(n(job, "chunks") >= 1 && n(job, "points") == n(job, "chunks"));
        assert_eq!(job["artifacts"].as_array().unwrap().len(), 3, "{job}");
    }
    if kind.has_broker() {
        // Dead letters: the corrupt PDF, the vanished source, the malformed message.
        fleet.assert_broker_drained(3);
        assert!(log.contains("malformed job message"), "{log}");
    }
    assert_points_match(&fleet, 50);

    // Redrive: the vanished source is back; `docfleet redrive` queues the dead jobs again and
    // the vanished one now succeeds (the corrupt PDF is dead again).
    std::fs::write(
        poison.join("vanished.txt"),
        "back again, and this time it stays",
    )
    .unwrap();
    let out = support::ok(fleet.cmd().arg("redrive").output().unwrap());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    fleet.run_worker_until_idle("e2e-redrive");
    let jobs = fleet.jobs();
    assert_eq!(by_state(&jobs, "succeeded").len(), 51, "{jobs:#?}");
    let dead = by_state(&jobs, "dead");
    assert_eq!(dead.len(), 1, "{jobs:#?}");
    assert!(dead[0]["source"].as_str().unwrap().ends_with("corrupt.pdf"));
    assert_points_match(&fleet, 51);
}

/// Enqueues a 120-page PDF (several seconds of work even at int8, which embeds 30 pages in about
/// a second here), then `small` small documents; returns the PDF's job id.
fn enqueue_slow_then_small(fleet: &Fleet, small: usize) -> String {
    let slow = slow_pdf(fleet.data_dir(), 120);
    let id = fleet.enqueue(&[&slow]).remove(0);
    let docs = fleet.data_dir().join("docs");
    small_docs(&docs, small);
    fleet.enqueue(&[&docs]);
    id
}

fn is_running(jobs: &[Value], id: &str) -> bool {
    jobs.iter()
        .any(|j| j["job_id"] == id && j["state"] == "running")
}

fn kill_9_mid_job_is_taken_over(kind: Kind) {
    let fleet = Fleet::new(kind, "kill9");
    let slow = enqueue_slow_then_small(&fleet, 6);

    let mut a = fleet.spawn_worker("e2e-a", &[("DOCFLEET_CONCURRENCY", "2")]);
    fleet.wait_for("the slow job to run", Duration::from_secs(60), |jobs| {
        is_running(jobs, &slow)
    });
    std::thread::sleep(Duration::from_millis(1500));
    a.signal("-KILL");
    a.wait(Duration::from_secs(10));
    assert_eq!(fleet.job(&slow)["state"], "running", "killed mid-job");

    let b = fleet.run_worker_until_idle("e2e-b");
    let job = fleet.job(&slow);
    assert_eq!(job["state"], "succeeded", "{job}\n{}", b.log_text());
    assert_eq!(job["worker_id"], "e2e-b");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(fleet.count("succeeded"), 7);
    fleet.assert_broker_drained(0);
    assert_points_match(&fleet, 7);
}

fn connections_dropped_mid_run(kind: Kind) {
    let fleet = Fleet::new(kind, "restart");
    if kind == Kind::LocalSqlite {
        eprintln!(
            "SKIP connections_dropped_mid_run[local-sqlite]: an SQLite file has no server connection to drop"
        );
        return;
    }
    let docs = fleet.data_dir().join("docs");
    small_docs(&docs, 30);
    fleet.enqueue(&[&docs]);
    let mut worker = fleet.spawn_worker("e2e-a", &[("DOCFLEET_CONCURRENCY", "2")]);
    fleet.wait_for("some jobs to succeed", Duration::from_secs(120), |jobs| {
        by_state(jobs, "succeeded").len() >= 3
    });
    let dropped = fleet.cut_connections();
    assert!(dropped >= 1, "no connection to drop");
    fleet.wait_for("all jobs to finish", Duration::from_secs(180), all_finished);
    worker.signal("-TERM");
    assert!(worker.wait(Duration::from_secs(30)).success());
    assert_eq!(fleet.count("succeeded"), 30, "{}", worker.log_text());
    if kind == Kind::Rabbitmq {
        assert!(
            worker.log_text().contains("reconnecting"),
            "{}",
            worker.log_text()
        );
        fleet.assert_broker_drained(0);
    }
    assert_points_match(&fleet, 30);
}

fn sigterm_drains_or_gives_back(kind: Kind) {
    let fleet = Fleet::new(kind, "sigterm");
    let slow = enqueue_slow_then_small(&fleet, 4);
    let running = |jobs: &[Value]| is_running(jobs, &slow);

    // Drain timeout shorter than the job: it is given back, and the worker exits 0 promptly.
    let mut a = fleet.spawn_worker(
        "e2e-a",
        &[
            ("DOCFLEET_CONCURRENCY", "2"),
            ("DOCFLEET_DRAIN_TIMEOUT_SECS", "1"),
        ],
    );
    fleet.wait_for("the slow job to run", Duration::from_secs(60), running);
    let t = std::time::Instant::now();
    a.signal("-TERM");
    assert!(
        a.wait(Duration::from_secs(20)).success(),
        "{}",
        a.log_text()
    );
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    let job = fleet.job(&slow);
    assert_eq!(
        job["state"],
        "queued",
        "given back: {job}\n{}",
        a.log_text()
    );
    assert_eq!(
        job["attempts"], 0,
        "a released attempt does not count: {job}"
    );

    // Time enough: the in-flight job finishes before the worker exits.
    let mut b = fleet.spawn_worker(
        "e2e-b",
        &[
            ("DOCFLEET_CONCURRENCY", "1"),
            ("DOCFLEET_DRAIN_TIMEOUT_SECS", "120"),
        ],
    );
    fleet.wait_for(
        "the slow job to run again",
        Duration::from_secs(60),
        running,
    );
    b.signal("-TERM");
    assert!(
        b.wait(Duration::from_secs(150)).success(),
        "{}",
        b.log_text()
    );
    let job = fleet.job(&slow);
    assert_eq!(
        job["state"],
        "succeeded",
        "drained: {job}\n{}",
        b.log_text()
    );

    fleet.run_worker_until_idle("e2e-c");
    assert_eq!(fleet.count("succeeded"), 5);
    fleet.assert_broker_drained(0);
    assert_points_match(&fleet, 5);
}

/// Per-job chunk options: a job may ask for other chunk settings; that is a new pipeline
/// version of the document, which replaces the old one's points. An impossible setting fails the
/// job for good with the reason.
#[test]
fn per_job_chunk_options_make_a_new_version() {
    let _one_at_a_time = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let fleet = Fleet::new(Kind::LocalSqlite, "options");
    let doc = fixtures().join("docs/kafka-consumer-groups.pdf");
    let job_chunks = |fleet: &Fleet, id: &str| {
        let job = fleet.job(id);
        assert_eq!(job["state"], "succeeded", "{job}");
        n(&job, "chunks")
    };
    let default = fleet.enqueue(&[&doc]);
    fleet.run_worker_until_idle("e2e-a");
    let default_chunks = job_chunks(&fleet, &default[0]);

    let small = fleet.enqueue_with(
        &["--chunk-max-tokens", "64", "--chunk-overlap-tokens", "8"],
        &[&doc],
    );
    let impossible = fleet.enqueue_with(&["--chunk-max-tokens", "100000"], &[&doc]);
    fleet.run_worker_until_idle("e2e-b");
    let small_chunks = job_chunks(&fleet, &small[0]);
    assert!(
        small_chunks > default_chunks * 2,
        "{small_chunks} vs {default_chunks}"
    );
    assert_eq!(
        fleet.points(),
        small_chunks,
        "the new version replaced the old points"
    );

    let job = fleet.job(&impossible[0]);
    assert_eq!(job["state"], "dead");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("over the model's limit"),
        "{job}"
    );
}

/// One scenario at a time: each runs real workers (model, extractor processes) that would
/// otherwise compete for the two cores and make timings meaningless, and the broker-side
/// connection cut must not hit another scenario's workers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial(case: fn(Kind), kind: Kind) {
    let _one_at_a_time = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    case(kind);
}

macro_rules! suite {
    (all: [$($case:ident),* $(,)?], with_server: [$($server_case:ident),* $(,)?] $(,)?) => {
        mod rabbitmq_postgres {
            $( #[test] fn $case() { super::serial(super::$case, super::Kind::Rabbitmq) } )*
            $( #[test] fn $server_case() { super::serial(super::$server_case, super::Kind::Rabbitmq) } )*
        }
        mod sqs_postgres {
            $( #[test] fn $case() { super::serial(super::$case, super::Kind::Sqs) } )*
        }
        mod kafka_postgres {
            $( #[test] fn $case() { super::serial(super::$case, super::Kind::Kafka) } )*
        }
        mod local_sqlite {
            $( #[test] fn $case() { super::serial(super::$case, super::Kind::LocalSqlite) } )*
        }
        mod local_postgres {
            $( #[test] fn $case() { super::serial(super::$case, super::Kind::LocalPostgres) } )*
            $( #[test] fn $server_case() { super::serial(super::$server_case, super::Kind::LocalPostgres) } )*
        }
    };
}

suite!(
    all: [
        fifty_documents_and_poison,
        kill_9_mid_job_is_taken_over,
        sigterm_drains_or_gives_back,
    ],
    // A dropped connection needs a server with connections: not the SQLite job table, and not
    // SQS (plain HTTP requests; moto keeps its state in memory, so it cannot be restarted).
    with_server: [connections_dropped_mid_run],
);
