//! The broker adapters' `QueueHarness`: one [`Broker`] over what differs per adapter
//! ([`Adapter`]): a producer and a consumer on fresh queues, the verdicts as the queue calls,
//! and the adapter's dead-letter queue read back.

use std::future::Future;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_queue::{Delivery, JobProducer, JobQueue, Result, TraceContext};

use crate::contract::{Caps, DeadLetter, QueueHarness, Verdict, settle_on};

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod rabbitmq;
#[cfg(feature = "sqs")]
pub mod sqs;

/// One broker adapter's fresh queues, as a case needs them.
#[async_trait]
pub trait Adapter: Send + Sync + Sized {
    type Consumer: JobQueue;
    type Producer: JobProducer;

    fn caps(&self) -> Caps;

    /// A new consumer on the queues (the first, and one after each restart).
    async fn consumer(&self) -> Self::Consumer;

    async fn publish_raw(&self, producer: &Self::Producer, body: &[u8]);

    async fn dead_letters(&self, producer: &Self::Producer) -> Vec<DeadLetter>;
}

pub struct Broker<A: Adapter> {
    consumer: A::Consumer,
    producer: A::Producer,
    adapter: A,
}

/// Runs `case` on `adapter`'s queues, with `producer` on them and a first consumer.
pub async fn run<A, F, Fut>(adapter: A, producer: A::Producer, case: F)
where
    A: Adapter,
    F: FnOnce(Broker<A>) -> Fut,
    Fut: Future<Output = ()>,
{
    let consumer = adapter.consumer().await;
    case(Broker {
        consumer,
        producer,
        adapter,
    })
    .await;
}

#[async_trait]
impl<A: Adapter> QueueHarness for Broker<A> {
    fn caps(&self) -> Caps {
        self.adapter.caps()
    }

    fn queue(&self) -> &dyn JobQueue {
        &self.consumer
    }

    async fn submit(&self, msg: &JobMessage, trace: &TraceContext) {
        self.producer
            .enqueue_traced(msg, trace)
            .await
            .expect("enqueue");
    }

    async fn publish_raw(&self, body: &[u8]) {
        self.adapter.publish_raw(&self.producer, body).await;
    }

    async fn settle(&self, d: &Delivery, verdict: Verdict<'_>) -> Result<()> {
        settle_on(&self.consumer, d, verdict).await
    }

    async fn restart_consumer(&mut self) {
        self.consumer.close().await;
        self.consumer = self.adapter.consumer().await;
    }

    async fn dead_letters(&self) -> Vec<DeadLetter> {
        self.adapter.dead_letters(&self.producer).await
    }
}
