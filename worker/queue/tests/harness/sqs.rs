//! SQS (moto): fresh queues with a 2 s visibility timeout (the lease, so that a lost delivery
//! comes back within the test), a client as the producer and another as the consumer.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::Message;
use docfleet_queue::sqs::{ERROR, SqsConfig, SqsQueue};
use docfleet_queue::{TRACEPARENT, TRACESTATE, TraceContext};

use super::{Adapter, Broker};
use crate::contract::{Caps, DeadLetter};
use crate::support::sqs;

const VISIBILITY: Duration = Duration::from_secs(2);

pub struct Sqs(SqsConfig);

pub async fn run<F, Fut>(case: F)
where
    F: FnOnce(Broker<Sqs>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut cfg = sqs::config("contract");
    cfg.visibility_timeout = VISIBILITY;
    let producer = sqs::open(&cfg).await;
    super::run(Sqs(cfg), producer, case).await;
}

fn attribute(m: &Message, name: &str) -> Option<String> {
    let value = m.message_attributes.as_ref()?.get(name)?;
    value.string_value().map(str::to_owned)
}

#[async_trait]
impl Adapter for Sqs {
    type Consumer = SqsQueue;
    type Producer = SqsQueue;

    fn caps(&self) -> Caps {
        Caps {
            lease: Some(VISIBILITY),
            counts_lost_deliveries: true,
            binary_bodies: false,
            rejoin: Duration::from_secs(1),
        }
    }

    async fn consumer(&self) -> SqsQueue {
        SqsQueue::connect(self.0.clone()).await.unwrap()
    }

    async fn publish_raw(&self, producer: &SqsQueue, body: &[u8]) {
        producer.publish_raw(body).await.unwrap();
    }

    async fn dead_letters(&self, producer: &SqsQueue) -> Vec<DeadLetter> {
        let messages = sqs::dead_letters(producer).await;
        messages
            .iter()
            .map(|m| DeadLetter {
                body: m.body().unwrap_or_default().as_bytes().to_vec(),
                reason: attribute(m, ERROR).unwrap_or_default(),
                trace: TraceContext::from_values(
                    attribute(m, TRACEPARENT),
                    attribute(m, TRACESTATE),
                ),
            })
            .collect()
    }
}
