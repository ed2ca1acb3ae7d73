//! RabbitMQ: a fresh queue (deleted afterwards), a producer-only connection, and consuming
//! connections with prefetch 16; restarting the consumer closes its connection.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use docfleet_queue::rabbitmq::{RabbitQueue, headers};
use docfleet_queue::{TRACEPARENT, TRACESTATE, TraceContext};

use super::{Adapter, Broker};
use crate::contract::{Caps, DeadLetter};
use crate::support::rabbitmq::TestQueue;

const PREFETCH: u16 = 16;

pub struct Rabbit(TestQueue);

pub async fn run<F, Fut>(case: F)
where
    F: FnOnce(Broker<Rabbit>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut queue = TestQueue::new("contract");
    // The delay queue of `cases::DELAY` (3 s: the adapter's delay bucket of 3072 ms), deleted
    // with the others (it would expire on its own 10 minutes later).
    queue.retry_buckets = vec![3072];
    let producer = queue.producer().await;
    super::run(Rabbit(queue), producer, case).await;
}

#[async_trait]
impl Adapter for Rabbit {
    type Consumer = RabbitQueue;
    type Producer = RabbitQueue;

    fn caps(&self) -> Caps {
        Caps {
            lease: None,
            counts_lost_deliveries: true,
            binary_bodies: true,
            rejoin: Duration::from_secs(1),
        }
    }

    async fn consumer(&self) -> RabbitQueue {
        self.0.connect(PREFETCH).await
    }

    async fn publish_raw(&self, producer: &RabbitQueue, body: &[u8]) {
        producer.publish_raw(body, None).await.unwrap();
    }

    async fn dead_letters(&self, _producer: &RabbitQueue) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        while let Some(m) = self.0.get_dead_letter().await {
            let h = m.delivery.properties.headers().as_ref();
            out.push(DeadLetter {
                body: m.delivery.data.clone(),
                reason: headers::get_string(h, headers::ERROR).unwrap_or_default(),
                trace: TraceContext::from_values(
                    headers::get_string(h, TRACEPARENT),
                    headers::get_string(h, TRACESTATE),
                ),
            });
        }
        out
    }
}
