//! The Kafka adapter against librdkafka's mock cluster (support/kafka.rs), beyond the `JobQueue`
//! contract (queue_contract.rs): consumer groups, commits, pausing, rebalances. Each test has its
//! own cluster.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod common;
mod support;

use common::{job, job_id, receive_n};
use docfleet_core::job::JobMessage;
use docfleet_queue::kafka::{KafkaConfig, KafkaProducer, KafkaQueue};
use docfleet_queue::{JobProducer, JobQueue};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use support::kafka::Cluster;

async fn enqueue(cfg: &KafkaConfig, n: usize) -> Vec<JobMessage> {
    let producer = KafkaProducer::connect(cfg.clone()).unwrap();
    let mut jobs = Vec::new();
    for i in 0..n {
        let msg = job(i);
        producer.enqueue(&msg).await.unwrap();
        jobs.push(msg);
    }
    jobs
}

/// The group's committed offset of partition 0 of the jobs topic (`None`: nothing committed).
fn committed(cfg: &KafkaConfig) -> Option<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cfg.bootstrap_servers)
        .set("group.id", &cfg.group_id)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&cfg.topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(5)).unwrap();
    match got.find_partition(&cfg.topic, 0).unwrap().offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// Polls `committed` until it equals `want` (commits are asynchronous, every 250 ms).
async fn wait_committed(cfg: &KafkaConfig, want: Option<i64>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = committed(cfg);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "committed {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_order_completion_commits_the_lowest_unfinished_offset_and_a_restart_skips_nothing()
{
    let cluster = Cluster::new();
    let cfg = cluster.config("order", 1);
    let mut cfg = cfg.clone();
    cfg.max_in_flight = 10;
    let sent = enqueue(&cfg, 10).await;
    let q = KafkaQueue::connect(cfg.clone()).unwrap();
    let got = receive_n(&q, 10, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 10);
    // Offsets 1, 2 and 5..10 finish; 0, 3 and 4 are still running.
    for (i, d) in got.iter().enumerate() {
        if ![0, 3, 4].contains(&i) {
            q.ack(d).await.unwrap();
        }
    }
    wait_committed(&cfg, Some(0)).await;
    q.ack(&got[0]).await.unwrap();
    wait_committed(&cfg, Some(3)).await;
    // A crash now: 3 and 4 were never finished.
    q.close().await;
    drop(q);
    let q = KafkaQueue::connect(cfg.clone()).unwrap();
    let again = receive_n(&q, 7, Duration::from_secs(20)).await;
    let again_ids: Vec<_> = again.iter().map(job_id).collect();
    // Nothing unfinished is skipped: 3..10 come again (5..10 were finished; the job store
    // recognises them); 0..3 do not.
    let want: Vec<_> = sent[3..].iter().map(|m| m.job_id).collect();
    assert_eq!(again_ids, want);
    for d in &again {
        q.ack(d).await.unwrap();
    }
    wait_committed(&cfg, Some(10)).await;
    q.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saturated_worker_gets_no_more_than_it_can_run() {
    let cluster = Cluster::new();
    let mut cfg = cluster.config("saturated", 1);
    cfg.max_in_flight = 2;
    enqueue(&cfg, 5).await;
    let q = KafkaQueue::connect(cfg.clone()).unwrap();
    let first = receive_n(&q, 5, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 2, "max_in_flight deliveries at most");
    assert!(receive_n(&q, 5, Duration::from_secs(2)).await.is_empty());
    q.ack(&first[0]).await.unwrap();
    let next = receive_n(&q, 5, Duration::from_secs(10)).await;
    assert_eq!(next.len(), 1, "one slot freed, one more delivery");
    for d in first[1..].iter().chain(&next) {
        q.ack(d).await.unwrap();
    }
    assert_eq!(receive_n(&q, 5, Duration::from_secs(10)).await.len(), 2);
    q.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebalance_hands_unfinished_work_to_the_new_owner_and_late_verdicts_commit_nothing() {
    let cluster = Cluster::new();
    let mut cfg = cluster.config("rebalance", 4);
    cfg.max_in_flight = 100;
    let sent = enqueue(&cfg, 40).await;
    let a = KafkaQueue::connect(cfg.clone()).unwrap();
    let held = receive_n(&a, 40, Duration::from_secs(20)).await;
    assert_eq!(held.len(), 40, "a owns every partition at first");

    // b joins: cooperative-sticky moves some partitions to it. a's deliveries of those are
    // still unsettled; b must get them (nothing was committed for them).
    let b = KafkaQueue::connect(cfg.clone()).unwrap();
    let moved = receive_n(&b, 40, Duration::from_secs(30)).await;
    // (The sticky assignor balances partitions over both subscribed topics, so b may get all of
    // the jobs topic's.)
    assert!(!moved.is_empty(), "b got none of a's unsettled deliveries");
    // a's late verdicts for everything: for b's partitions they commit nothing.
    for d in &held {
        a.ack(d).await.unwrap();
    }
    let moved_ids: Vec<_> = moved.iter().map(job_id).collect();
    assert!(
        moved_ids
            .iter()
            .all(|id| sent.iter().any(|m| m.job_id == *id))
    );
    // b's partitions were not committed by a: after b closes without acking, a (now owning
    // everything again) receives exactly those.
    b.close().await;
    drop(b);
    let again = receive_n(&a, moved.len(), Duration::from_secs(30)).await;
    let mut again_ids: Vec<_> = again.iter().map(job_id).collect();
    let mut moved_ids = moved_ids;
    again_ids.sort();
    moved_ids.sort();
    assert_eq!(again_ids, moved_ids);
    a.close().await;
}
