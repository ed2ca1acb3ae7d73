//! The RabbitMQ adapter against the real broker, beyond the `JobQueue` contract
//! (queue_contract.rs): topology, delivery limit, prefetch, reconnects, stale deliveries, the
//! consumer timeout (`./scripts/services rabbitmq` starts the broker; the tests fail, never
//! skip, when it is down). Each test uses its own queues and deletes them.

mod common;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{body_of, job, receive_n};
use docfleet_queue::rabbitmq::{RabbitQueue, headers};
use docfleet_queue::{Delivery, Error, JobProducer, JobQueue};
use support::rabbitmq::{TestQueue, kill_connections};

const WAIT: Duration = Duration::from_secs(5);

fn ids(ds: &[Delivery]) -> BTreeSet<uuid::Uuid> {
    ds.iter().map(|d| body_of(d).job_id).collect()
}

#[tokio::test]
async fn enqueued_jobs_are_received_intact_and_acked_away() {
    let tq = TestQueue::new("roundtrip");
    let producer = tq.producer().await;
    let jobs: Vec<_> = (0..20).map(job).collect();
    for j in &jobs {
        producer.enqueue(j).await.unwrap();
    }
    let depth = producer.depth().await.unwrap();
    assert_eq!((depth.ready, depth.consumers), (Some(20), Some(0)));
    let err = producer.receive(1, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let q = tq.connect(8).await;
    let mut got = Vec::new();
    while got.len() < jobs.len() {
        let batch = receive_n(&q, 8, WAIT).await;
        assert!(!batch.is_empty(), "only {} of 20 received", got.len());
        for d in batch {
            assert_eq!(d.attempt, 1);
            q.ack(&d).await.unwrap();
            got.push(body_of(&d));
        }
    }
    got.sort_by_key(|m| m.source.clone());
    let mut want = jobs.clone();
    want.sort_by_key(|m| m.source.clone());
    assert_eq!(got, want);
    assert!(
        q.receive(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    let depth = q.depth().await.unwrap();
    assert_eq!((depth.ready, depth.consumers), (Some(0), Some(1)));
    assert_eq!(q.dead_letter_depth().await.unwrap().ready, Some(0));
}

#[tokio::test]
async fn unacked_deliveries_come_back_after_the_connection_closes() {
    let tq = TestQueue::new("redeliver");
    let q = tq.connect(4).await;
    for n in 0..3 {
        q.enqueue(&job(n)).await.unwrap();
    }
    let first = receive_n(&q, 3, WAIT).await;
    assert_eq!(first.len(), 3);
    q.close().await; // a crashed worker: nothing acked
    drop(q);
    let q = tq.connect(4).await;
    let again = receive_n(&q, 3, WAIT).await;
    assert_eq!(ids(&again), ids(&first));
    for d in &again {
        assert_eq!(d.attempt, 2, "x-delivery-count counts the lost delivery");
        q.ack(d).await.unwrap();
    }
    // The stale handles of the closed connection cannot be settled.
    assert!(matches!(q.ack(&first[0]).await, Err(Error::StaleDelivery)));
    assert_eq!(q.depth().await.unwrap().ready, Some(0));
}

#[tokio::test]
async fn retry_redelivers_after_the_delay_as_the_next_attempt() {
    let mut tq = TestQueue::new("retry");
    tq.retry_buckets = vec![320];
    let q = tq.connect(2).await;
    q.enqueue(&job(1)).await.unwrap();
    let d = receive_n(&q, 1, WAIT).await.pop().unwrap();
    assert_eq!(d.attempt, 1);
    let t0 = Instant::now();
    q.retry(&d, Duration::from_millis(300)).await.unwrap();
    assert!(
        q.receive(1, Duration::from_millis(250))
            .await
            .unwrap()
            .is_empty()
    );
    let d2 = receive_n(&q, 1, WAIT)
        .await
        .pop()
        .expect("the retried message");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "came back after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "came back after {waited:?}"
    );
    assert_eq!(d2.attempt, 2);
    assert_eq!(d2.body, d.body);
    // A zero delay goes straight back to the queue.
    q.retry(&d2, Duration::ZERO).await.unwrap();
    let d3 = receive_n(&q, 1, WAIT).await.pop().expect("retried at once");
    assert_eq!((d3.attempt, &d3.body), (3, &d.body));
    // The original was settled by the retry: settling it again is refused.
    assert!(matches!(q.ack(&d).await, Err(Error::StaleDelivery)));
    q.ack(&d3).await.unwrap();
    assert_eq!(q.depth().await.unwrap().ready, Some(0));
}

#[tokio::test]
async fn dead_letter_keeps_the_message_and_its_reason() {
    let tq = TestQueue::new("deadletter");
    let q = tq.connect(2).await;
    let j = job(7);
    q.enqueue(&j).await.unwrap();
    let d = receive_n(&q, 1, WAIT).await.pop().unwrap();
    q.dead_letter(&d, "corrupt PDF: no xref table")
        .await
        .unwrap();
    assert_eq!(q.depth().await.unwrap().ready, Some(0));
    assert!(
        q.receive(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.dead_letter_depth().await.unwrap().ready, Some(1));
    let m = tq.get_dead_letter().await.expect("a dead letter");
    let h = m.delivery.properties.headers().as_ref();
    assert_eq!(
        headers::get_string(h, headers::ERROR).as_deref(),
        Some("corrupt PDF: no xref table")
    );
    assert_eq!(headers::get_u64(h, headers::ATTEMPT), Some(1));
    assert_eq!(
        headers::get_string(h, headers::SOURCE_QUEUE),
        Some(tq.name.clone())
    );
    assert_eq!(m.delivery.data, j.to_bytes());
    assert_eq!(m.delivery.properties.delivery_mode(), &Some(2));
}

#[tokio::test]
async fn the_broker_dead_letters_a_message_over_the_delivery_limit() {
    let tq = TestQueue::new("limit");
    let mut cfg = tq.config(1);
    cfg.delivery_limit = 2;
    let j = job(3);
    tq.producer_with(cfg.clone())
        .await
        .enqueue(&j)
        .await
        .unwrap();
    // A worker that dies on this message every time.
    let mut attempts = Vec::new();
    loop {
        let q = tq.connect_with(cfg.clone()).await;
        let got = q.receive(1, Duration::from_secs(2)).await.unwrap();
        q.close().await;
        match got.first() {
            Some(d) => attempts.push(d.attempt),
            None => break,
        }
        assert!(attempts.len() < 10, "never dead-lettered: {attempts:?}");
    }
    assert_eq!(attempts, [1, 2, 3], "delivered delivery_limit + 1 times");
    let m = tq
        .get_dead_letter()
        .await
        .expect("dead-lettered by the broker");
    assert_eq!(m.delivery.data, j.to_bytes());
    let h = m.delivery.properties.headers().as_ref();
    assert_eq!(
        headers::get_string(h, "x-first-death-reason").as_deref(),
        Some("delivery_limit")
    );
}

#[tokio::test]
async fn prefetch_bounds_the_unacked_deliveries() {
    let tq = TestQueue::new("prefetch");
    let q = tq.connect(3).await;
    for n in 0..10 {
        q.enqueue(&job(n)).await.unwrap();
    }
    let held = receive_n(&q, 10, Duration::from_secs(1)).await;
    assert_eq!(held.len(), 3);
    assert!(
        q.receive(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    q.ack(&held[0]).await.unwrap();
    let more = receive_n(&q, 10, Duration::from_millis(700)).await;
    assert_eq!(more.len(), 1);
    assert_eq!(q.depth().await.unwrap().ready, Some(6));
}

#[tokio::test]
async fn reconnects_after_the_broker_closes_the_connection_and_loses_nothing() {
    let tq = TestQueue::new("reconnect");
    let producer = tq.producer().await;
    let q = tq.connect(4).await;
    let jobs: Vec<_> = (0..8).map(job).collect();
    for j in &jobs[..5] {
        producer.enqueue(j).await.unwrap();
    }
    let before = receive_n(&q, 2, WAIT).await;
    assert_eq!(before.len(), 2);
    assert_eq!(kill_connections(&tq.name), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for d in &before {
        assert!(matches!(q.ack(d).await, Err(Error::StaleDelivery)));
    }
    // The next receive reconnects on its own; enqueue (on the consumer's queue object) too.
    let mut got = Vec::new();
    let mut enqueued_rest = false;
    while got.len() < jobs.len() {
        let batch = receive_n(&q, 4, WAIT).await;
        assert!(!batch.is_empty(), "lost messages: got {}", got.len());
        for d in batch {
            q.ack(&d).await.unwrap();
            got.push((body_of(&d).job_id, d.attempt));
        }
        if !enqueued_rest {
            for j in &jobs[5..] {
                q.enqueue(j).await.unwrap();
            }
            enqueued_rest = true;
        }
    }
    let want: BTreeSet<_> = jobs.iter().map(|j| j.job_id).collect();
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<BTreeSet<_>>(), want);
    assert_eq!(got.len(), 8, "no duplicates");
    // What the dead connection held (the 2 received and up to prefetch = 4 buffered) comes back
    // as attempt 2; the rest is attempt 1.
    let redelivered: BTreeSet<_> = got
        .iter()
        .filter(|(_, a)| *a == 2)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        redelivered.is_superset(&ids(&before)) && redelivered.len() <= 4,
        "{got:?}"
    );
    assert!(got.iter().all(|(_, a)| *a <= 2), "{got:?}");
    assert_eq!(q.depth().await.unwrap().ready, Some(0));
}

#[tokio::test]
async fn a_receive_waiting_when_the_connection_dies_reconnects_and_delivers() {
    let tq = TestQueue::new("midwait");
    let producer = tq.producer().await;
    let q = tq.connect(2).await;
    let j = job(1);
    let name = tq.name.clone();
    let (got, ()) = tokio::join!(q.receive(1, Duration::from_secs(8)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let closed = tokio::task::spawn_blocking(move || kill_connections(&name))
            .await
            .unwrap();
        assert_eq!(closed, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer.enqueue(&j).await.unwrap();
    });
    let got = got.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((body_of(&got[0]), got[0].attempt), (j, 1));
    q.ack(&got[0]).await.unwrap();
}

#[tokio::test]
async fn release_gives_the_message_back_without_an_attempt() {
    let tq = TestQueue::new("release");
    let q = tq.connect(1).await;
    q.enqueue(&job(1)).await.unwrap();
    let d = receive_n(&q, 1, WAIT).await.pop().unwrap();
    q.release(&d).await.unwrap();
    let again = receive_n(&q, 1, WAIT)
        .await
        .pop()
        .expect("released message");
    assert_eq!((again.attempt, &again.body), (1, &d.body));
    q.ack(&again).await.unwrap();
}

#[tokio::test]
async fn extend_is_a_no_op_within_the_consumer_timeout() {
    let tq = TestQueue::new("extend");
    let q = tq.connect(1).await;
    q.enqueue(&job(1)).await.unwrap();
    let d = receive_n(&q, 1, WAIT).await.pop().unwrap();
    q.extend(&d, Duration::from_secs(60)).await.unwrap();
    q.extend(&d, Duration::from_secs(3600)).await.unwrap(); // warns: past the consumer timeout
    let deadline = q.consumer_deadline(&d).unwrap();
    let left = deadline.saturating_duration_since(Instant::now());
    assert!(left > Duration::from_secs(29 * 60) && left <= Duration::from_secs(30 * 60));
    q.ack(&d).await.unwrap();
    assert!(matches!(
        q.extend(&d, Duration::from_secs(1)).await,
        Err(Error::StaleDelivery)
    ));
}

#[tokio::test]
async fn topology_is_idempotent_and_a_conflicting_declaration_is_a_clear_error() {
    let tq = TestQueue::new("topology");
    let a = tq.connect(1).await;
    let b = tq.connect(2).await; // same arguments: accepted
    assert_eq!(a.depth().await.unwrap().consumers, Some(2));
    drop(b);
    let mut cfg = tq.config(1);
    cfg.delivery_limit = 9;
    let err = RabbitQueue::connect(cfg)
        .await
        .err()
        .expect("conflicting x-delivery-limit");
    assert!(
        matches!(err, Error::Topology(_)) && !err.is_retryable(),
        "{err}"
    );
    assert!(err.to_string().contains("x-delivery-limit"), "{err}");
}

#[tokio::test]
async fn an_unreachable_broker_is_a_retryable_error() {
    let tq = TestQueue::new("unreachable");
    let mut cfg = tq.config(1);
    cfg.url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    cfg.reconnect_max_times = 1;
    let err = RabbitQueue::connect(cfg)
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(err.is_retryable(), "{err}");
    // The client's error is kept, not only its text.
    let Error::Unavailable(unavailable) = &err else {
        panic!("not Unavailable: {err}")
    };
    let cause = unavailable.cause().expect("a cause");
    assert!(cause.is::<lapin::Error>(), "{cause:?}");
    assert!(err.to_string().ends_with(&cause.to_string()), "{err}");
}

#[tokio::test]
async fn stop_consuming_hands_back_prefetched_deliveries_for_release() {
    let tq = TestQueue::new("stop");
    let producer = tq.producer().await;
    for n in 0..3 {
        producer.enqueue(&job(n)).await.unwrap();
    }
    let q = tq.connect(4).await;
    let first = receive_n(&q, 1, WAIT).await;
    assert_eq!(first.len(), 1);
    // The other two were prefetched into the client; wait until the broker shows them unacked.
    let deadline = Instant::now() + WAIT;
    while q.depth().await.unwrap().ready != Some(0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prefetched = q.stop_consuming().await.unwrap();
    assert_eq!(prefetched.len(), 2, "the prefetched deliveries come back");
    for d in &prefetched {
        q.release(d).await.unwrap();
    }
    q.release(&first[0]).await.unwrap();
    // Nothing more arrives on this consumer; a new one gets all three, none counted as an attempt.
    producer.enqueue(&job(9)).await.unwrap();
    q.close().await;
    let again = tq.connect(8).await;
    let got = receive_n(&again, 4, WAIT).await;
    assert_eq!(got.len(), 4);
    assert!(
        got.iter().all(|d| d.attempt == 1),
        "released, not redelivered"
    );
    for d in &got {
        again.ack(d).await.unwrap();
    }
}
