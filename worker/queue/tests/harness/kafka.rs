//! Kafka (a mock cluster per case): topics of 2 partitions, a producer, and consumers in the
//! case's group; restarting the consumer closes it (committing what it finished) and joins a new
//! one, which takes a few seconds.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use docfleet_queue::kafka::{ERROR, KafkaConfig, KafkaProducer, KafkaQueue};
use docfleet_queue::{TRACEPARENT, TRACESTATE, TraceContext};

use super::{Adapter, Broker};
use crate::contract::{Caps, DeadLetter};
use crate::support::kafka::{Cluster, read_topic};

pub struct Kafka(KafkaConfig);

pub async fn run<F, Fut>(case: F)
where
    F: FnOnce(Broker<Kafka>) -> Fut,
    Fut: Future<Output = ()>,
{
    // Held here, not in the harness (it is neither Send nor Sync), until the case is done with
    // its clients.
    let cluster = Cluster::new();
    let mut cfg = cluster.config("contract", 2);
    cfg.max_in_flight = 16;
    let producer = KafkaProducer::connect(cfg.clone()).unwrap();
    super::run(Kafka(cfg), producer, case).await;
    drop(cluster);
}

#[async_trait]
impl Adapter for Kafka {
    type Consumer = KafkaQueue;
    type Producer = KafkaProducer;

    fn caps(&self) -> Caps {
        Caps {
            lease: None,
            counts_lost_deliveries: false,
            binary_bodies: true,
            rejoin: Duration::from_secs(8),
        }
    }

    async fn consumer(&self) -> KafkaQueue {
        KafkaQueue::connect(self.0.clone()).unwrap()
    }

    async fn publish_raw(&self, producer: &KafkaProducer, body: &[u8]) {
        producer.publish_raw(body).await.unwrap();
    }

    async fn dead_letters(&self, _producer: &KafkaProducer) -> Vec<DeadLetter> {
        let cfg = self.0.clone();
        let records = tokio::task::spawn_blocking(move || read_topic(&cfg, &cfg.dlq_topic()))
            .await
            .unwrap();
        records
            .into_iter()
            .map(|mut r| DeadLetter {
                body: r.payload,
                reason: r.headers.remove(ERROR).unwrap_or_default(),
                trace: TraceContext::from_values(
                    r.headers.remove(TRACEPARENT),
                    r.headers.remove(TRACESTATE),
                ),
            })
            .collect()
    }
}
