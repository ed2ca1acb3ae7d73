//! The SQS adapter against moto's server (`./scripts/services moto` starts it; the endpoint is
//! `DOCFLEET_TEST_AWS_ENDPOINT`, default http://127.0.0.1:4566; credentials and region from the
//! usual AWS variables, which ./scripts/test sets to dummies for moto). The tests fail, never
//! skip, when it is down. Each test uses fresh queue names.
#![cfg(feature = "sqs")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod common;

use common::job;
use docfleet_core::job::JobMessage;
use docfleet_queue::sqs::{SqsConfig, SqsQueue};
use docfleet_queue::{Delivery, JobProducer, JobQueue};

fn endpoint() -> String {
    std::env::var("DOCFLEET_TEST_AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

fn config(test: &str) -> SqsConfig {
    let mut cfg = SqsConfig::new(format!(
        "docfleet-test-{test}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    cfg.endpoint_url = Some(endpoint());
    cfg.region = Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()));
    cfg
}

async fn open(cfg: &SqsConfig) -> SqsQueue {
    SqsQueue::create_queues(cfg).await.unwrap_or_else(|e| {
        panic!(
            "SQS (moto) unreachable at {} ({e}): start it with `./scripts/services moto`, and set \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (any value for moto) — ./scripts/test does both",
            endpoint()
        )
    });
    SqsQueue::connect(cfg.clone()).await.unwrap()
}

async fn receive_n(q: &SqsQueue, n: usize, within: Duration) -> Vec<Delivery> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        out.extend(
            q.receive(n - out.len(), left.min(Duration::from_secs(2)))
                .await
                .unwrap(),
        );
    }
    out
}

fn id(d: &Delivery) -> uuid::Uuid {
    JobMessage::parse(&d.body).unwrap().job_id
}

#[tokio::test]
async fn enqueued_jobs_come_back_in_batches_and_ack_deletes_them() {
    let q = open(&config("roundtrip")).await;
    for n in 0..12 {
        q.enqueue(&job(n)).await.unwrap();
    }
    let got = receive_n(&q, 12, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 12);
    for d in &got {
        assert_eq!(d.attempt, 1);
        q.ack(d).await.unwrap();
    }
    let depth = q.depth().await.unwrap();
    assert_eq!((depth.ready, depth.unacked), (Some(0), Some(0)));
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn retry_hides_the_message_for_the_delay_and_counts_an_attempt() {
    let q = open(&config("retry")).await;
    q.enqueue(&job(0)).await.unwrap();
    let first = receive_n(&q, 1, Duration::from_secs(5)).await;
    let t = Instant::now();
    q.retry(&first[0], Duration::from_secs(2)).await.unwrap();
    assert!(
        q.receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "hidden"
    );
    let again = receive_n(&q, 1, Duration::from_secs(6)).await;
    assert!(t.elapsed() >= Duration::from_secs(2));
    assert_eq!((id(&again[0]), again[0].attempt), (id(&first[0]), 2));
    q.ack(&again[0]).await.unwrap();
}

#[tokio::test]
async fn heartbeat_keeps_a_long_job_past_the_visibility_timeout() {
    let mut cfg = config("heartbeat");
    cfg.visibility_timeout = Duration::from_secs(2);
    let q = open(&cfg).await;
    q.enqueue(&job(0)).await.unwrap();
    let d = receive_n(&q, 1, Duration::from_secs(5)).await.remove(0);
    // A 5 s job, twice the visibility timeout, renewing every second: nobody else gets it.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        q.extend(&d, Duration::from_secs(2)).await.unwrap();
        assert!(
            q.receive(1, Duration::from_secs(1))
                .await
                .unwrap()
                .is_empty(),
            "redelivered while running"
        );
    }
    q.ack(&d).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        q.receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_message_received_max_receive_count_times_lands_in_the_dlq() {
    let mut cfg = config("redrive");
    cfg.visibility_timeout = Duration::from_secs(1);
    cfg.max_receive_count = 2;
    let q = open(&cfg).await;
    q.enqueue(&job(0)).await.unwrap();
    for attempt in 1..=2 {
        // Received and never settled, as by a worker that crashes: visible again after 1 s.
        let d = receive_n(&q, 1, Duration::from_secs(6)).await;
        assert_eq!(d.len(), 1, "delivery {attempt}");
        assert_eq!(d[0].attempt, attempt);
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(
        receive_n(&q, 1, Duration::from_secs(3)).await.is_empty(),
        "moved by the redrive"
    );
    assert_eq!(q.dead_letter_depth().await.unwrap().ready, Some(1));
}

#[tokio::test]
async fn dead_letter_defer_and_release() {
    let q = open(&config("verdicts")).await;
    for n in 0..3 {
        q.enqueue(&job(n)).await.unwrap();
    }
    let got = receive_n(&q, 3, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 3);
    q.dead_letter(&got[0], "file:///data/doc.pdf: corrupt PDF")
        .await
        .unwrap();
    let t = Instant::now();
    q.defer(&got[1], Duration::from_secs(1)).await.unwrap();
    q.release(&got[2]).await.unwrap();
    let back = receive_n(&q, 2, Duration::from_secs(8)).await;
    assert_eq!(back.len(), 2);
    assert!(t.elapsed() >= Duration::from_millis(900));
    for d in &back {
        assert_eq!(
            d.attempt, 1,
            "deferring and releasing do not count an attempt"
        );
        q.ack(d).await.unwrap();
    }
    assert_eq!(q.dead_letter_depth().await.unwrap().ready, Some(1));
}

#[tokio::test]
async fn the_trace_context_travels_as_message_attributes_through_defer_and_release() {
    let q = open(&config("trace")).await;
    let trace = common::trace();
    q.enqueue_traced(&job(0), &trace).await.unwrap();
    let d = receive_n(&q, 1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(d.trace, trace);
    q.defer(&d, Duration::ZERO).await.unwrap();
    let d = receive_n(&q, 1, Duration::from_secs(5)).await.remove(0);
    assert_eq!((d.attempt, &d.trace), (1, &trace));
    q.release(&d).await.unwrap();
    let d = receive_n(&q, 1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(d.trace, trace);
    q.ack(&d).await.unwrap();
    q.enqueue(&job(1)).await.unwrap();
    let plain = receive_n(&q, 1, Duration::from_secs(5)).await.remove(0);
    assert!(plain.trace.is_empty());
    q.ack(&plain).await.unwrap();
}
