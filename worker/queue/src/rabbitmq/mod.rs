//! The RabbitMQ adapter (lapin): a durable quorum queue with a dead-letter exchange and queue,
//! delay queues for retries, manual acks, prefetch = concurrency, publisher confirms, and a new
//! connection (with backoff) whenever the old one broke.
//!
//! Verdicts, and what the broker sees:
//! - `ack`: `basic.ack` of the delivery.
//! - `retry(after)`: a copy is published (confirmed, persistent) to `<queue>.retry.<ms>`, whose
//!   TTL dead-letters it back to `<queue>` after `ms` (`after` rounded up by at most 1/8, see
//!   [`config`]), or straight to `<queue>` when `after` is zero; then the original is acked. The
//!   copy carries `x-docfleet-attempt` = this attempt's number, so it comes back as attempt + 1.
//! - `defer(after)`: as `retry`, but the copy keeps the attempt count (another worker holds the
//!   job; waiting for it is not an attempt).
//! - `dead_letter(reason)`: a copy with `x-docfleet-error: <reason>`, `x-docfleet-attempt` and
//!   `x-docfleet-queue` is published (confirmed) through `<queue>.dlx` to `<queue>.dlq`; then the
//!   original is acked. Messages the broker dead-letters itself (over `x-delivery-limit`) reach the
//!   same queue with the broker's `x-death` / `x-first-death-reason: delivery_limit` headers.
//! - `release`: a copy with the attempt count unchanged is published to `<queue>` and the original
//!   acked (a quorum queue in RabbitMQ 3.10 counts every `nack` with requeue as a delivery, which
//!   would spend the delivery limit on scale-ins); if that publish fails, `nack` with requeue.
//!
//! A copy is published before the original is acked, so a failure in between duplicates the
//! message rather than losing it (at-least-once; the job store makes the redo idempotent).
//!
//! Attempt numbers: see [`headers`]. The broker's `x-delivery-limit` thus counts only deliveries
//! that ended without a verdict (a crashed worker, a lost connection, a consumer timeout): it is
//! the safety net against a message that kills its worker; `max_attempts` in the runtime bounds
//! retries through [`crate::Delivery::attempt`].
//!
//! Lost connections: every call checks the session and reconnects (backon: exponential with
//! jitter, capped) and redeclares the topology when it is gone; `receive` also does so when the
//! consumer stops mid-wait. Deliveries from a dead channel cannot be settled any more: the broker
//! returns them to the queue itself. `ack`, `retry`, `dead_letter`, `release` and `extend` on such
//! a delivery return [`Error::StaleDelivery`] (not retryable) without publishing anything, so the
//! runtime can count it and move on; `retry` and `dead_letter` check this before publishing their
//! copy, so a stale delivery is not duplicated into the retry or dead-letter queue.
//!
//! Consumer timeout: RabbitMQ closes the channel of a consumer whose delivery has stayed unacked
//! longer than its `consumer_timeout` (default 30 minutes; 3.10 has no per-queue override and AMQP
//! no way to extend it), and the message is redelivered. A job must finish within it: set
//! [`RabbitConfig::consumer_timeout`] to the broker's value; `extend` logs a warning when a job's
//! lease would run past it, and [`RabbitQueue::consumer_deadline`] tells the runtime when a job
//! is lost anyway. Deadlines are measured from when `receive` handed the delivery out; with
//! prefetch = concurrency a delivery waits in the client's buffer only until a slot frees up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_core::time::now_unix_secs;
use lapin::options::{BasicAckOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Acker, BasicProperties, ErrorKind};
use tracing::{debug, warn};

use crate::{Delivery, Error, JobProducer, JobQueue, QueueDepth, Result, TraceContext};

pub mod config;
pub mod headers;
mod receive;
mod session;
pub mod topology;

pub use config::{DEFAULT_AMQP_URL, DEFAULT_CONSUMER_TIMEOUT, RabbitConfig};
pub use topology::Names;

use session::Session;

/// Maps a lapin error: broker refusals of a declaration or an access are not worth retrying,
/// everything else (I/O, closed channels, heartbeats) is.
pub(crate) fn map_err(context: &str, e: lapin::Error) -> Error {
    if let ErrorKind::ProtocolError(amqp) = e.kind()
        && matches!(amqp.get_id(), 403 | 404 | 405 | 406 | 530 | 540)
    {
        return Error::Topology(format!("{context}: {e}"));
    }
    Error::unavailable(context, e)
}

/// What a RabbitMQ [`Delivery`] carries in its handle.
struct RabbitHandle {
    queue: String,
    acker: Acker,
    properties: BasicProperties,
    received_at: Instant,
}

/// A job queue on RabbitMQ; both the consumer ([`JobQueue`]) and the producer ([`JobProducer`]).
pub struct RabbitQueue {
    cfg: RabbitConfig,
    names: Names,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    generation: AtomicU64,
    /// False for a producer-only queue ([`RabbitQueue::connect_producer`]).
    consume: bool,
}

impl RabbitQueue {
    /// Connects (retrying with backoff while the broker is unavailable), declares the topology
    /// and starts consuming with `basic.qos(prefetch)`.
    pub async fn connect(cfg: RabbitConfig) -> Result<Self> {
        Self::open(cfg, true).await
    }

    /// Connects and declares the topology without consuming, for the API and `docfleet enqueue`:
    /// only [`JobProducer::enqueue`], [`RabbitQueue::publish_raw`] and `depth` are of use; the
    /// consuming calls fail with [`Error::Config`].
    pub async fn connect_producer(cfg: RabbitConfig) -> Result<Self> {
        Self::open(cfg, false).await
    }

    async fn open(cfg: RabbitConfig, consume: bool) -> Result<Self> {
        cfg.validate()?;
        let names = Names::new(&cfg.queue);
        let session = Session::open_with_backoff(&cfg, &names, 1, consume).await?;
        Ok(Self {
            cfg,
            names,
            session: tokio::sync::Mutex::new(Some(Arc::new(session))),
            generation: AtomicU64::new(1),
            consume,
        })
    }

    pub fn config(&self) -> &RabbitConfig {
        &self.cfg
    }

    /// The queue, dead-letter exchange and dead-letter queue names.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Closes the connection; deliveries not yet settled go back to the queue (the broker counts
    /// them in `x-delivery-count`).
    pub async fn close(&self) {
        if let Some(s) = self.session.lock().await.take() {
            s.close().await;
        }
    }

    /// When the broker will take this delivery back if it is still unacked (its consumer timeout).
    pub fn consumer_deadline(&self, d: &Delivery) -> Option<Instant> {
        let h = d.handle.downcast_ref::<RabbitHandle>()?;
        h.received_at.checked_add(self.cfg.consumer_timeout)
    }

    /// Publishes any bytes to the job queue, confirmed and persistent (for tools and tests; jobs
    /// go through [`JobProducer::enqueue`]).
    pub async fn publish_raw(&self, body: &[u8], message_id: Option<&str>) -> Result<()> {
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_timestamp(now_unix_secs());
        if let Some(id) = message_id {
            props = props.with_message_id(id.into());
        }
        let s = self.session().await?;
        s.publish("", &self.names.queue, body, props).await
    }

    /// Depth of the dead-letter queue.
    pub async fn dead_letter_depth(&self) -> Result<QueueDepth> {
        self.depth_of(&self.names.dlq).await
    }

    /// The live session, or a new one if the connection or a channel is gone.
    async fn session(&self) -> Result<Arc<Session>> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            if s.healthy() {
                return Ok(Arc::clone(s));
            }
            warn!(queue = %self.names.queue, "RabbitMQ connection lost, reconnecting");
        }
        if let Some(old) = guard.take() {
            old.close().await;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let s = Arc::new(
            Session::open_with_backoff(&self.cfg, &self.names, generation, self.consume).await?,
        );
        *guard = Some(Arc::clone(&s));
        Ok(s)
    }

    /// Drops the session of `generation` (if still current) so that the next call reconnects.
    async fn invalidate(&self, generation: u64) {
        let mut guard = self.session.lock().await;
        if guard.as_ref().is_some_and(|s| s.generation == generation)
            && let Some(old) = guard.take()
        {
            old.close().await;
        }
    }

    fn handle<'a>(&self, d: &'a Delivery) -> Result<&'a RabbitHandle> {
        match d.handle.downcast_ref::<RabbitHandle>() {
            Some(h) if h.queue == self.names.queue => Ok(h),
            _ => Err(Error::ForeignHandle),
        }
    }

    /// A handle whose channel is still open and that has not been settled yet.
    fn live_handle<'a>(&self, d: &'a Delivery) -> Result<&'a RabbitHandle> {
        let h = self.handle(d)?;
        if h.acker.usable() {
            Ok(h)
        } else {
            debug!(queue = %self.names.queue, "delivery from a closed channel or already settled");
            Err(Error::StaleDelivery)
        }
    }

    async fn ack_original(&self, h: &RabbitHandle) -> Result<()> {
        match h.acker.ack(BasicAckOptions::default()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::StaleDelivery),
            Err(_) if h.acker.poisoned() => Err(Error::StaleDelivery),
            Err(e) => Err(map_err("acknowledging a delivery", e)),
        }
    }

    /// Properties of a copy of `h`'s message, with `attempts_before` in its headers.
    fn copy_props(h: &RabbitHandle, attempts_before: u32) -> BasicProperties {
        let o = &h.properties;
        let mut p = BasicProperties::default()
            .with_headers(headers::for_copy(o.headers().as_ref(), attempts_before));
        if let Some(v) = o.content_type() {
            p = p.with_content_type(v.clone());
        }
        if let Some(v) = o.content_encoding() {
            p = p.with_content_encoding(v.clone());
        }
        if let Some(v) = o.message_id() {
            p = p.with_message_id(v.clone());
        }
        if let Some(v) = o.correlation_id() {
            p = p.with_correlation_id(v.clone());
        }
        if let Some(v) = o.timestamp() {
            p = p.with_timestamp(*v);
        }
        p
    }

    /// `retry` and `defer`: a copy (carrying `attempts_before`) through the delay queue of
    /// `after`, or straight back to the queue when it is zero; then the original is acked.
    async fn redeliver_after(
        &self,
        d: &Delivery,
        after: Duration,
        attempts_before: u32,
    ) -> Result<()> {
        let h = self.live_handle(d)?;
        let s = self.session().await?;
        let props = Self::copy_props(h, attempts_before);
        if after.is_zero() {
            s.publish("", &self.names.queue, &d.body, props).await?;
        } else {
            let ms = config::retry_bucket_ms(after, self.cfg.max_retry_delay);
            let q = topology::declare_retry(s.publish_channel(), &self.names, ms).await?;
            s.publish("", &q, &d.body, props).await?;
        }
        self.ack_original(h).await
    }

    async fn depth_of(&self, queue: &str) -> Result<QueueDepth> {
        let s = self.session().await?;
        let ch = s.scratch_channel().await?;
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let q = ch
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .map_err(|e| map_err(&format!("inspecting queue {queue}"), e))?;
        if let Err(e) = ch.close(200, "done".into()).await {
            debug!(error = %e, "closing a scratch channel");
        }
        Ok(QueueDepth {
            ready: Some(u64::from(q.message_count())),
            unacked: None, // AMQP does not tell; the management API does
            consumers: Some(u64::from(q.consumer_count())),
        })
    }
}

#[async_trait]
impl JobQueue for RabbitQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        receive::receive(self, max, wait).await
    }

    async fn ack(&self, d: &Delivery) -> Result<()> {
        let h = self.live_handle(d)?;
        self.ack_original(h).await
    }

    async fn retry(&self, d: &Delivery, after: Duration) -> Result<()> {
        self.redeliver_after(d, after, d.attempt).await
    }

    async fn defer(&self, d: &Delivery, after: Duration) -> Result<()> {
        self.redeliver_after(d, after, d.attempt.saturating_sub(1))
            .await
    }

    async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<()> {
        let h = self.live_handle(d)?;
        let s = self.session().await?;
        let mut props = Self::copy_props(h, d.attempt);
        let mut hdrs = props.headers().clone().unwrap_or_default();
        hdrs.insert(
            headers::ERROR.into(),
            AMQPValue::LongString(headers::clip_reason(reason).into()),
        );
        hdrs.insert(
            headers::SOURCE_QUEUE.into(),
            AMQPValue::LongString(self.names.queue.as_str().into()),
        );
        props = props.with_headers(hdrs);
        s.publish(&self.names.dlx, &self.names.dlq, &d.body, props)
            .await?;
        warn!(queue = %self.names.queue, attempt = d.attempt, reason, "dead-lettered a message");
        self.ack_original(h).await
    }

    async fn extend(&self, d: &Delivery, lease: Duration) -> Result<()> {
        let h = self.live_handle(d)?;
        let until = h.received_at.elapsed().saturating_add(lease);
        if until >= self.cfg.consumer_timeout {
            warn!(
                queue = %self.names.queue,
                attempt = d.attempt,
                running_s = h.received_at.elapsed().as_secs(),
                consumer_timeout_s = self.cfg.consumer_timeout.as_secs(),
                "job is about to run past RabbitMQ's consumer_timeout: the broker will close the \
                 channel and deliver it again"
            );
        }
        Ok(())
    }

    async fn release(&self, d: &Delivery) -> Result<()> {
        let h = self.live_handle(d)?;
        let props = Self::copy_props(h, d.attempt.saturating_sub(1));
        let published = match self.session().await {
            Ok(s) => s.publish("", &self.names.queue, &d.body, props).await,
            Err(e) => Err(e),
        };
        match published {
            Ok(()) => self.ack_original(h).await,
            Err(e) => {
                debug!(error = %e, "release by copy failed, requeueing the original");
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                match h.acker.nack(requeue).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Error::StaleDelivery),
                    Err(_) if h.acker.poisoned() => Err(Error::StaleDelivery),
                    Err(e) => Err(map_err("requeueing a delivery", e)),
                }
            }
        }
    }

    async fn depth(&self) -> Result<QueueDepth> {
        self.depth_of(&self.names.queue).await
    }

    async fn stop_consuming(&self) -> Result<Vec<Delivery>> {
        receive::stop(self).await
    }

    async fn close(&self) {
        RabbitQueue::close(self).await;
    }
}

#[async_trait]
impl JobProducer for RabbitQueue {
    async fn enqueue_traced(&self, msg: &JobMessage, trace: &TraceContext) -> Result<()> {
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(msg.job_id.to_string().as_str().into())
            .with_timestamp(now_unix_secs());
        if !trace.is_empty() {
            props = props.with_headers(headers::with_trace(trace));
        }
        let s = self.session().await?;
        s.publish("", &self.names.queue, &msg.to_bytes(), props)
            .await
    }
}
