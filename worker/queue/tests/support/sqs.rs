//! SQS against moto's server (`./scripts/services moto` starts it; the endpoint is
//! `DOCFLEET_TEST_AWS_ENDPOINT`, default http://127.0.0.1:4566; credentials and region from the
//! usual AWS variables, which ./scripts/test sets to dummies for moto). Tests fail, never skip,
//! when it is down. Each test uses fresh queue names.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;
use docfleet_queue::sqs::{SqsConfig, SqsQueue, client};

pub fn endpoint() -> String {
    std::env::var("DOCFLEET_TEST_AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// A config for fresh queues named after `test`.
pub fn config(test: &str) -> SqsConfig {
    let mut cfg = SqsConfig::new(format!(
        "docfleet-test-{test}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    cfg.endpoint_url = Some(endpoint());
    cfg.region = Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()));
    cfg
}

/// Creates the queues of `cfg` and connects to them.
pub async fn open(cfg: &SqsConfig) -> SqsQueue {
    SqsQueue::create_queues(cfg).await.unwrap_or_else(|e| {
        panic!(
            "SQS (moto) unreachable at {} ({e}): start it with `./scripts/services moto`, and set \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (any value for moto) — ./scripts/test does both",
            endpoint()
        )
    });
    SqsQueue::connect(cfg.clone()).await.unwrap()
}

/// Every message in the dead-letter queue of `cfg`, with its message attributes (each received
/// once and hidden for a minute, so none is counted twice).
pub async fn dead_letters(q: &SqsQueue) -> Vec<Message> {
    let cfg = q.config();
    let want = q.dead_letter_depth().await.unwrap().ready.unwrap_or(0) as usize;
    let client = client(cfg).await;
    let url = client
        .get_queue_url()
        .queue_name(cfg.dlq_name())
        .send()
        .await
        .unwrap()
        .queue_url
        .expect("the dead-letter queue's URL");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        let got = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        out.extend(got.messages.unwrap_or_default());
    }
    assert_eq!(out.len(), want, "dead letters");
    out
}
