//! The Kafka adapter (rdkafka / librdkafka).
//!
//! - Topics: `<t>` (jobs), `<t>.retry` (delayed retries), `<t>.dlq` (dead letters), made by
//!   [`create_topics`] (`docfleet queues init --queue kafka`).
//! - Consumer group, cooperative-sticky assignment, no auto-commit: a polling thread
//!   (consumer.rs) keeps the membership alive and pauses the partitions while the worker has
//!   `max_in_flight` deliveries unsettled, resuming when one settles.
//! - Commits (offsets.rs): per partition, only up to the lowest unfinished offset, since jobs
//!   finish out of order; every 250 ms, and synchronously on revoke and close. A restart or a new
//!   owner resumes there: nothing unfinished is skipped; finished jobs above that point are
//!   delivered again and the runtime acknowledges them from the job store without redoing them.
//! - Rebalance: on revoke, the finished offsets of the revoked partitions are committed, their
//!   trackers dropped and their undelivered messages forgotten; a late verdict for a delivery of
//!   theirs commits nothing (the new owner gets the message).
//! - Verdicts: `ack` finishes the offset. `retry(after)`/`defer(after)` produce a copy to
//!   `<t>.retry` with `docfleet-attempts-before` (raised by a retry, kept by a defer) and
//!   `docfleet-not-before-ms`, then finish the original; a retry-topic message is held in memory
//!   (its offset uncommitted) until its time. `dead_letter` produces a copy with `docfleet-error`
//!   to `<t>.dlq`, then finishes. Copy first, finish after: a crash in between duplicates, never
//!   loses. `release` leaves the offset unfinished: it is committed below, so redelivered.
//! - Attempt = `docfleet-attempts-before` + 1. Kafka has no delivery count: a redelivery after a
//!   crash does not raise it (the job store counts those attempts).
//! - `extend` is a no-op: Kafka has no per-message lease; the polling thread keeps the group
//!   membership, and a crashed worker's partitions move after `session.timeout.ms`.
//! - Producer: `acks=all`, idempotence on; `enqueue` returns after the broker's acknowledgement.

mod config;
mod consumer;
mod offsets;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_core::time::now_unix_millis;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

pub use config::{KafkaConfig, parse_properties};
use consumer::{Context, Received, Shared};

use crate::{
    Delivery, DeliveryHandle, Error, JobProducer, JobQueue, QueueDepth, Result, TraceContext,
};

/// Message headers of the adapter.
pub const ATTEMPTS_BEFORE: &str = "docfleet-attempts-before";
pub const NOT_BEFORE_MS: &str = "docfleet-not-before-ms";
pub const ERROR: &str = "docfleet-error";
pub const SOURCE: &str = "docfleet-source";

const SEND_TIMEOUT: Duration = Duration::from_secs(30);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

fn unavailable(context: &str, e: KafkaError) -> Error {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            Error::Topology(format!(
                "{context}: {e}; run `docfleet queues init --queue kafka`"
            ))
        }
        _ => Error::unavailable(context, e),
    }
}

/// What a Kafka [`Delivery`] carries.
struct KafkaHandle {
    topic: String,
    partition: i32,
    offset: i64,
    generation: u64,
    key: Option<Vec<u8>>,
    attempts_before: u32,
}

/// The producer: `acks=all`, idempotent.
pub struct KafkaProducer {
    producer: FutureProducer,
    cfg: KafkaConfig,
}

impl KafkaProducer {
    pub fn connect(cfg: KafkaConfig) -> Result<Self> {
        cfg.validate()?;
        let producer = cfg
            .client_config()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .map_err(|e| Error::Config(format!("Kafka producer: {e}")))?;
        Ok(Self { producer, cfg })
    }

    /// Produces `body` to `topic` and waits for the broker's acknowledgement.
    async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        body: &[u8],
        headers: OwnedHeaders,
    ) -> Result<()> {
        let mut record = FutureRecord::to(topic).payload(body).headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.producer
            .send(record, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| unavailable(&format!("producing to {topic}"), e))
    }

    /// A raw message on the jobs topic (tests: a malformed message).
    pub async fn publish_raw(&self, body: &[u8]) -> Result<()> {
        self.send(&self.cfg.topic, None, body, OwnedHeaders::new())
            .await
    }
}

#[async_trait]
impl JobProducer for KafkaProducer {
    async fn enqueue_traced(&self, msg: &JobMessage, trace: &TraceContext) -> Result<()> {
        let key = msg.job_id.to_string();
        self.send(
            &self.cfg.topic,
            Some(key.as_bytes()),
            &msg.to_bytes(),
            with_trace(OwnedHeaders::new(), trace),
        )
        .await
    }
}

/// Creates the jobs, retry and dead-letter topics (existing ones are left as they are).
pub async fn create_topics(cfg: &KafkaConfig) -> Result<()> {
    cfg.validate()?;
    let admin: AdminClient<DefaultClientContext> = cfg
        .client_config()
        .create()
        .map_err(|e| Error::Config(format!("Kafka admin client: {e}")))?;
    let names = [cfg.topic.clone(), cfg.retry_topic(), cfg.dlq_topic()];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            NewTopic::new(
                n,
                cfg.partitions,
                TopicReplication::Fixed(cfg.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(METADATA_TIMEOUT))
        .request_timeout(Some(Duration::from_secs(15)));
    let results = admin
        .create_topics(&topics, &opts)
        .await
        .map_err(|e| unavailable("creating Kafka topics", e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(Error::Topology(format!(
                    "creating Kafka topic {topic}: {code}"
                )));
            }
        }
    }
    Ok(())
}

pub struct KafkaQueue {
    consumer: Arc<BaseConsumer<Context>>,
    shared: Arc<Shared>,
    producer: KafkaProducer,
    poller: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl KafkaQueue {
    /// Joins the group on the jobs and retry topics (they must exist: `create_topics`).
    pub fn connect(cfg: KafkaConfig) -> Result<Self> {
        cfg.validate()?;
        let shared = Arc::new(Shared::new(cfg.max_in_flight));
        let session_ms = cfg.session_timeout.as_millis().to_string();
        let consumer: BaseConsumer<Context> = cfg
            .client_config()
            .set("group.id", &cfg.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", &session_ms)
            .set_log_level(rdkafka::config::RDKafkaLogLevel::Warning)
            .create_with_context(Context {
                shared: shared.clone(),
            })
            .map_err(|e| Error::Config(format!("Kafka consumer: {e}")))?;
        // Fail fast, and clearly, when the topics are missing.
        for topic in [cfg.topic.clone(), cfg.retry_topic()] {
            let md = consumer
                .fetch_metadata(Some(&topic), METADATA_TIMEOUT)
                .map_err(|e| unavailable(&format!("Kafka metadata of {topic}"), e))?;
            if md.topics().iter().all(|t| t.partitions().is_empty()) {
                return Err(Error::Topology(format!(
                    "Kafka topic {topic} does not exist; run `docfleet queues init --queue kafka`"
                )));
            }
        }
        consumer
            .subscribe(&[&cfg.topic, &cfg.retry_topic()])
            .map_err(|e| unavailable("subscribing", e))?;
        let consumer = Arc::new(consumer);
        let poller = {
            let (consumer, shared) = (consumer.clone(), shared.clone());
            std::thread::Builder::new()
                .name("kafka-consumer".into())
                .spawn(move || consumer::poll_loop(consumer, shared))
                .map_err(|e| Error::unavailable("starting the Kafka poller", e))?
        };
        Ok(Self {
            consumer,
            shared,
            producer: KafkaProducer::connect(cfg)?,
            poller: std::sync::Mutex::new(Some(poller)),
        })
    }

    pub fn producer(&self) -> &KafkaProducer {
        &self.producer
    }

    fn handle<'a>(&self, d: &'a Delivery) -> Result<&'a KafkaHandle> {
        d.handle.downcast_ref().ok_or(Error::ForeignHandle)
    }

    /// Ends a delivery: with `finish`, its offset may be committed (if this worker still owns
    /// the same assignment of its partition).
    fn settle(&self, h: &KafkaHandle, finish: bool) {
        let mut state = self.shared.lock();
        state.handed_out = state.handed_out.saturating_sub(1);
        if !finish {
            return;
        }
        match state.partitions.get_mut(&(h.topic.clone(), h.partition)) {
            Some(p) if p.generation == h.generation => p.finished(h.offset),
            _ => tracing::debug!(topic = %h.topic, partition = h.partition, offset = h.offset,
                                 "verdict for a revoked partition: not committed here"),
        }
    }

    /// A copy of the delivery to `topic` with `headers` (and its trace context), then the
    /// original finished.
    async fn forward(&self, d: &Delivery, topic: &str, headers: OwnedHeaders) -> Result<()> {
        let h = self.handle(d)?;
        self.producer
            .send(
                topic,
                h.key.as_deref(),
                &d.body,
                with_trace(headers, &d.trace),
            )
            .await?;
        self.settle(h, true);
        Ok(())
    }

    async fn to_retry(&self, d: &Delivery, after: Duration, attempts_before: u32) -> Result<()> {
        let not_before = (now_unix_millis() + after.as_millis() as u64).to_string();
        let attempts = attempts_before.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: ATTEMPTS_BEFORE,
                value: Some(attempts.as_str()),
            })
            .insert(Header {
                key: NOT_BEFORE_MS,
                value: Some(not_before.as_str()),
            });
        self.forward(d, &self.producer.cfg.retry_topic(), headers)
            .await
    }

    /// Messages on the dead-letter topic (its high watermarks).
    pub async fn dead_letter_count(&self) -> Result<u64> {
        let topic = self.producer.cfg.dlq_topic();
        let consumer = self.consumer.clone();
        blocking(move || {
            let md = consumer.fetch_metadata(Some(&topic), METADATA_TIMEOUT)?;
            let mut total = 0;
            for t in md.topics() {
                for p in t.partitions() {
                    let (low, high) =
                        consumer.fetch_watermarks(&topic, p.id(), METADATA_TIMEOUT)?;
                    total += (high - low).max(0) as u64;
                }
            }
            Ok(total)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, KafkaError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::unavailable("Kafka task", e))?
        .map_err(|e| unavailable("Kafka", e))
}

/// `headers` plus the W3C trace context ones.
fn with_trace(headers: OwnedHeaders, trace: &TraceContext) -> OwnedHeaders {
    trace.pairs().fold(headers, |h, (key, v)| {
        h.insert(Header {
            key,
            value: Some(v),
        })
    })
}

fn into_delivery(r: Received) -> Delivery {
    Delivery {
        attempt: r.attempts_before.saturating_add(1),
        trace: r.trace,
        body: r.body,
        handle: DeliveryHandle::new(KafkaHandle {
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            generation: r.generation,
            key: r.key,
            attempts_before: r.attempts_before,
        }),
    }
}

#[async_trait]
impl JobQueue for KafkaQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let mut state = self.shared.lock();
                let n = max.min(state.ready.len());
                if n > 0 && !state.stopped {
                    state.handed_out += n;
                    return Ok(state.ready.drain(..n).map(into_delivery).collect());
                }
            }
            if tokio::time::timeout_at(deadline, self.shared.ready.notified())
                .await
                .is_err()
            {
                return Ok(Vec::new());
            }
        }
    }

    async fn ack(&self, d: &Delivery) -> Result<()> {
        self.settle(self.handle(d)?, true);
        Ok(())
    }

    async fn retry(&self, d: &Delivery, after: Duration) -> Result<()> {
        self.to_retry(d, after, d.attempt).await
    }

    async fn defer(&self, d: &Delivery, after: Duration) -> Result<()> {
        let before = self.handle(d)?.attempts_before;
        self.to_retry(d, after, before).await
    }

    async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<()> {
        let h = self.handle(d)?;
        let source = format!("{}/{}/{}", h.topic, h.partition, h.offset);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: ERROR,
                value: Some(reason),
            })
            .insert(Header {
                key: SOURCE,
                value: Some(source.as_str()),
            });
        self.forward(d, &self.producer.cfg.dlq_topic(), headers)
            .await
    }

    async fn extend(&self, d: &Delivery, _lease: Duration) -> Result<()> {
        self.handle(d).map(|_| ())
    }

    async fn release(&self, d: &Delivery) -> Result<()> {
        self.settle(self.handle(d)?, false);
        Ok(())
    }

    /// Ready = the group's lag on this worker's partitions (high watermark − commit point);
    /// unacked = deliveries received and not settled.
    async fn depth(&self) -> Result<QueueDepth> {
        let (points, unacked) = {
            let state = self.shared.lock();
            let points: Vec<_> = state
                .partitions
                .iter()
                .map(|((t, p), o)| (t.clone(), *p, o.commit_point()))
                .collect();
            (
                points,
                (state.handed_out + state.ready.len() + state.held.len()) as u64,
            )
        };
        let consumer = self.consumer.clone();
        let ready = blocking(move || {
            let mut lag = 0;
            for (topic, partition, point) in points {
                let (low, high) = consumer.fetch_watermarks(&topic, partition, METADATA_TIMEOUT)?;
                lag += (high - point.unwrap_or(low).max(low)).max(0) as u64;
            }
            Ok(lag)
        })
        .await?;
        Ok(QueueDepth {
            ready: Some(ready),
            unacked: Some(unacked),
            consumers: None,
        })
    }

    async fn stop_consuming(&self) -> Result<Vec<Delivery>> {
        let mut state = self.shared.lock();
        state.stopped = true;
        let left: Vec<Received> = state.ready.drain(..).collect();
        state.handed_out += left.len();
        Ok(left.into_iter().map(into_delivery).collect())
    }

    async fn close(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        let poller = self
            .poller
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(poller) = poller {
            let _ = tokio::task::spawn_blocking(move || poller.join()).await;
        }
    }
}

impl Drop for KafkaQueue {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
    }
}
