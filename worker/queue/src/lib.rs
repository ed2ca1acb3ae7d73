//! The job queue seam: how a worker receives jobs and reports their outcome, and how the API or CLI
//! submits them. One trait pair, one adapter per broker (`rabbitmq`, `sqs` and `kafka` here, the
//! last two behind features; the job-table queue lives with the job store,
//! `docfleet_jobstore::JobTableQueue`).
//!
//! Delivery is at-least-once: a job may be delivered again after a crash, a lost connection or a
//! retry, and every effect of processing it is idempotent (see the architecture's "Delivery
//! semantics"). The adapter never parses the message body; the runtime does, and dead-letters a
//! message that fails [`docfleet_core::job::JobMessage::parse`].

use std::any::Any;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;

mod error;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod rabbitmq;
#[cfg(feature = "sqs")]
pub mod sqs;
mod trace_context;

pub use error::{BoxError, Error, Result, Unavailable};
pub use trace_context::{TRACEPARENT, TRACESTATE, TraceContext};

/// One received message. Hand it back to exactly one of [`JobQueue::ack`], [`JobQueue::retry`],
/// [`JobQueue::dead_letter`] or [`JobQueue::release`].
#[derive(Debug)]
pub struct Delivery {
    /// The message body, untouched (the adapter does not parse it).
    pub body: Vec<u8>,
    /// 1-based: the first delivery of a job is attempt 1; every retry and every delivery that
    /// ended without a verdict (crash, lost connection) adds one. Each adapter documents its rule.
    pub attempt: u32,
    /// The submitter's trace context, from the broker's metadata (empty when it had none).
    pub trace: TraceContext,
    /// The adapter's own bookkeeping (delivery tag, channel, lease…), opaque to the runtime.
    pub handle: DeliveryHandle,
}

/// Adapter-specific state of a [`Delivery`]. Type-erased so that adapters can live in other crates
/// (the job-table queue lives with the job store); an adapter only accepts the handles it made.
pub struct DeliveryHandle(Box<dyn Any + Send + Sync>);

impl DeliveryHandle {
    pub fn new<T: Any + Send + Sync>(inner: T) -> Self {
        Self(Box::new(inner))
    }

    /// The adapter's state, or `None` for a handle made by another adapter.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for DeliveryHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeliveryHandle(..)")
    }
}

/// Queue depth, for metrics and autoscaling. Each count is `None` where the broker does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Messages waiting to be delivered.
    pub ready: Option<u64>,
    /// Messages delivered to some consumer and not yet acknowledged.
    pub unacked: Option<u64>,
    /// Consumers attached to the queue.
    pub consumers: Option<u64>,
}

/// The consuming side of a queue.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Up to `max` deliveries, waiting at most `wait` for the first one; an empty vector when none
    /// came. Reconnects transparently when the broker went away.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>>;

    /// Done: remove the message for good.
    async fn ack(&self, d: &Delivery) -> Result<()>;

    /// Transient failure: deliver the message again, no sooner than `after`, as the next attempt.
    async fn retry(&self, d: &Delivery, after: Duration) -> Result<()>;

    /// Not this job's turn (another worker holds the job, or another job holds its document):
    /// deliver the message again, no sooner than `after`, without counting an attempt where the
    /// broker allows it.
    async fn defer(&self, d: &Delivery, after: Duration) -> Result<()> {
        self.retry(d, after).await
    }

    /// Permanent failure: move the message to the dead-letter queue with `reason` kept alongside.
    async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<()>;

    /// Still working on a long job: keep the lease for another `lease`. A no-op where the broker
    /// has no lease (RabbitMQ; see its adapter for the consumer timeout).
    async fn extend(&self, d: &Delivery, lease: Duration) -> Result<()>;

    /// Shutting down: give the message back for another worker, without counting an attempt where
    /// the broker allows it.
    async fn release(&self, d: &Delivery) -> Result<()>;

    /// Ready/unacked counts when the broker tells.
    async fn depth(&self) -> Result<QueueDepth>;

    /// The broker's long-poll wait, for a queue whose `receive` can be dropped mid-wait (the
    /// runtime then cancels it at shutdown) and where waiting long saves requests. `None` (the
    /// default): the runtime asks with a short wait and never drops a `receive`.
    fn long_poll(&self) -> Option<Duration> {
        None
    }

    /// True when the queue is the job store's own table: a delivery is then a row already
    /// started for this worker, and the job-store transitions are the verdicts (the calls above
    /// only check the handle). Brokers keep the default, false.
    fn claims_in_store(&self) -> bool {
        false
    }

    /// Shutdown, before draining: stops new deliveries to this consumer and returns those the
    /// broker had already sent (prefetched) that `receive` has not handed out yet, so the runtime
    /// can `release` them instead of leaving them to the broker's redelivery on disconnect (which
    /// counts as a delivery). `receive` must not be called afterwards.
    async fn stop_consuming(&self) -> Result<Vec<Delivery>> {
        Ok(Vec::new())
    }

    /// Flushes pending verdicts and disconnects, for a clean exit: an ack still in a client
    /// buffer when the process ends would make the broker deliver the message again.
    async fn close(&self) {}
}

/// The submitting side of a queue.
#[async_trait]
pub trait JobProducer: Send + Sync {
    /// Publishes a job with the submitter's trace context (kept in the broker's metadata); when
    /// this returns `Ok`, the broker has stored it durably.
    async fn enqueue_traced(&self, msg: &JobMessage, trace: &TraceContext) -> Result<()>;

    /// `enqueue_traced` without a trace context.
    async fn enqueue(&self, msg: &JobMessage) -> Result<()> {
        self.enqueue_traced(msg, &TraceContext::default()).await
    }
}
