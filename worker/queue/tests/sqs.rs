//! The SQS adapter against moto's server, beyond the `JobQueue` contract (queue_contract.rs):
//! the redrive policy that `create_queues` sets. See support/sqs.rs for the service.
#![cfg(feature = "sqs")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

mod common;
mod support;

use common::{job, receive_n};
use docfleet_queue::JobProducer;
use support::sqs::{config, open};

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
