//! Completion webhooks: when a job with a `callback_url` succeeds or is dead, a JSON event is
//! POSTed to it, off the job's path (a background task; the verdict never waits for it). A batch
//! with a `callback_url` gets one `batch.completed` event, from the worker that records the
//! batch's last verdict.
//!
//! - Signed: `Docfleet-Signature: t=<unix secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   with `--webhook-secret`; receivers check it and the age of `t`. Without a secret the
//!   events are sent unsigned (the worker warns once at start).
//! - `Docfleet-Delivery: <uuid>`, the same on every attempt: receivers deduplicate by it (a
//!   redelivered job can also notify twice: at-least-once). A batch's is UUIDv5 of its id, so
//!   two workers that both see the batch finish send the same one.
//! - Retried on connection errors, timeouts, 408, 429 and 5xx with the worker's backoff, up to
//!   `--webhook-max-attempts`; other 4xx are final. At most 16 deliveries at once. At exit the
//!   worker waits for the ones under way up to its drain timeout; what is left then is lost
//!   (logged).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, warn};
use uuid::Uuid;

use docfleet_jobstore::JobStore;

use super::retry::RetryPolicy;

const IN_FLIGHT: usize = 16;
const TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to a job, as sent.
#[derive(Debug, Clone, Serialize)]
pub struct JobEvent {
    /// `job.succeeded` or `job.dead`.
    pub event: &'static str,
    pub job_id: Uuid,
    pub tenant: String,
    pub source: String,
    pub chunks: Option<u64>,
    pub points: Option<u64>,
    pub error: Option<String>,
    pub at_unix_ms: u64,
}

/// One batch, every job of it finished.
#[derive(Debug, Clone, Serialize)]
pub struct BatchEvent {
    /// `batch.completed`.
    pub event: &'static str,
    pub batch_id: Uuid,
    pub tenant: String,
    pub total: u64,
    pub succeeded: u64,
    pub dead: u64,
    pub at_unix_ms: u64,
}

/// What is sent.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Event {
    Job(JobEvent),
    Batch(BatchEvent),
}

/// Namespace of batch delivery ids.
const BATCH_DELIVERY_NS: Uuid = Uuid::from_u128(0x0b4f_3c1d_77e2_4a51_9e08_5d2c_6f1a_0003);

impl Event {
    fn delivery(&self) -> Uuid {
        match self {
            Event::Job(_) => Uuid::new_v4(),
            Event::Batch(b) => Uuid::new_v5(&BATCH_DELIVERY_NS, b.batch_id.as_bytes()),
        }
    }

    fn subject(&self) -> String {
        match self {
            Event::Job(j) => format!("job {}", j.job_id),
            Event::Batch(b) => format!("batch {}", b.batch_id),
        }
    }
}

/// The batch event, if `job_id` belongs to a batch whose jobs have all succeeded or are dead.
async fn batch_completed(
    store: &dyn JobStore,
    tenant: &str,
    job_id: Uuid,
) -> docfleet_jobstore::Result<Option<BatchEvent>> {
    let Some(batch_id) = store.get(job_id).await?.and_then(|r| r.batch_id) else {
        return Ok(None);
    };
    let Some(b) = store.batch_counts(tenant, batch_id).await? else {
        return Ok(None);
    };
    let c = b.counts;
    Ok((c.succeeded + c.dead == c.total()).then(|| BatchEvent {
        event: "batch.completed",
        batch_id,
        tenant: tenant.to_owned(),
        total: c.total(),
        succeeded: c.succeeded,
        dead: c.dead,
        at_unix_ms: docfleet_core::time::now_unix_millis(),
    }))
}

pub struct Webhooks {
    client: reqwest::Client,
    secret: Option<Vec<u8>>,
    max_attempts: u32,
    retry: RetryPolicy,
    limit: Arc<Semaphore>,
    tasks: TaskTracker,
}

/// The span of one event's delivery (all its attempts), a child of the current span.
fn delivery_span(event: &Event) -> tracing::Span {
    let name = match event {
        Event::Job(j) => j.event,
        Event::Batch(b) => b.event,
    };
    tracing::info_span!(
        "webhook",
        otel.kind = "client",
        event = name,
        attempts = tracing::field::Empty
    )
}

/// `t=<ts>,v1=<hex>` for `body` sent at `ts`.
pub fn signature(secret: &[u8], ts: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}

enum Sent {
    Done,
    Retry(String),
    Final(String),
}

impl Webhooks {
    pub fn new(
        secret: Option<&str>,
        max_attempts: u32,
        retry: RetryPolicy,
    ) -> anyhow::Result<Arc<Self>> {
        if secret.is_none() {
            warn!("no --webhook-secret: job callbacks are sent unsigned");
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("docfleet/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(Self {
            client,
            secret: secret.map(|s| s.as_bytes().to_vec()),
            max_attempts: max_attempts.max(1),
            retry,
            limit: Arc::new(Semaphore::new(IN_FLIGHT)),
            tasks: TaskTracker::new(),
        }))
    }

    /// Sends the event in the background, as a child span of the caller's (the job's), signed
    /// with `secret` (a tenant profile's) or else the fleet's.
    pub fn notify(self: &Arc<Self>, url: String, secret: Option<&str>, event: Event) {
        let this = self.clone();
        let span = delivery_span(&event);
        let secret = secret.map(|s| s.as_bytes().to_vec());
        self.tasks.spawn(
            async move { this.deliver(&url, secret.as_deref(), &event).await }.instrument(span),
        );
    }

    /// After the final verdict of a job of a batch (recorded in `store`): in the background,
    /// sends `batch.completed` to `url` if that was the batch's last job.
    pub fn batch_verdict(
        self: &Arc<Self>,
        store: Arc<dyn JobStore>,
        url: String,
        tenant: String,
        job_id: Uuid,
    ) {
        let this = self.clone();
        let parent = tracing::Span::current();
        self.tasks.spawn(async move {
            match batch_completed(store.as_ref(), &tenant, job_id).await {
                Ok(Some(event)) => {
                    let event = Event::Batch(event);
                    let span = parent.in_scope(|| delivery_span(&event));
                    this.deliver(&url, None, &event).instrument(span).await;
                }
                Ok(None) => {}
                Err(e) => warn!(error = %e, %job_id, "could not read the batch's progress; no batch callback"),
            }
        });
    }

    /// At exit: waits up to `within` for the deliveries under way (retries included).
    pub async fn drain(&self, within: Duration) {
        self.tasks.close();
        if self.tasks.is_empty() {
            return;
        }
        info!(
            pending = self.tasks.len(),
            ?within,
            "waiting for webhooks to be delivered"
        );
        if tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                lost = self.tasks.len(),
                "webhooks still undelivered at exit"
            );
        }
    }

    async fn deliver(&self, url: &str, secret: Option<&[u8]>, event: &Event) {
        let Ok(_slot) = self.limit.acquire().await else {
            return;
        };
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => return warn!(error = %e, "could not encode a webhook event"),
        };
        let delivery = event.delivery().to_string();
        let subject = event.subject();
        for attempt in 1..=self.max_attempts {
            tracing::Span::current().record("attempts", attempt);
            match self.send(url, secret, &delivery, &body).await {
                Sent::Done => {
                    return info!(%subject, attempt, "webhook delivered");
                }
                Sent::Final(why) => {
                    return warn!(%subject, %why, "webhook refused; not retried");
                }
                Sent::Retry(why) if attempt < self.max_attempts => {
                    debug!(%subject, attempt, %why, "webhook failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
                Sent::Retry(why) => {
                    warn!(%subject, attempts = attempt, %why, "webhook given up");
                }
            }
        }
    }

    async fn send(&self, url: &str, secret: Option<&[u8]>, delivery: &str, body: &[u8]) -> Sent {
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("docfleet-delivery", delivery)
            .body(body.to_vec());
        // The receiver can join the job's trace.
        for (name, value) in crate::telemetry::current_context().pairs() {
            req = req.header(name, value);
        }
        if let Some(secret) = secret.or(self.secret.as_deref()) {
            let ts = docfleet_core::time::now_unix_secs();
            req = req.header("docfleet-signature", signature(secret, ts, body));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => Sent::Done,
            Ok(r) => {
                let s = r.status();
                let why = format!("HTTP {s}");
                if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                    Sent::Retry(why)
                } else {
                    Sent::Final(why)
                }
            }
            Err(e) => Sent::Retry(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Expected value from Python's hmac module: an independent implementation.
        assert_eq!(
            signature(b"key", 1_700_000_000, b"{\"a\":1}"),
            "t=1700000000,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
    }
}
