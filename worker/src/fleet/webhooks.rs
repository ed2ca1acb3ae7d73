//! Completion webhooks: when a job with a `callback_url` succeeds or is dead, a JSON event is
//! POSTed to it, off the job's path (a background task; the verdict never waits for it).
//!
//! - Signed: `Docfleet-Signature: t=<unix secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   with `--webhook-secret`; receivers check it and the age of `t`. Without a secret the
//!   events are sent unsigned (the worker warns once at start).
//! - `Docfleet-Delivery: <uuid>`, the same on every attempt: receivers deduplicate by it (a
//!   redelivered job can also notify twice: at-least-once).
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
use tracing::{debug, info, warn};
use uuid::Uuid;

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

pub struct Webhooks {
    client: reqwest::Client,
    secret: Option<Vec<u8>>,
    max_attempts: u32,
    retry: RetryPolicy,
    limit: Arc<Semaphore>,
    tasks: TaskTracker,
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

    /// Sends the event in the background.
    pub fn notify(self: &Arc<Self>, url: String, event: JobEvent) {
        let this = self.clone();
        self.tasks
            .spawn(async move { this.deliver(&url, &event).await });
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

    async fn deliver(&self, url: &str, event: &JobEvent) {
        let Ok(_slot) = self.limit.acquire().await else {
            return;
        };
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => return warn!(error = %e, "could not encode a webhook event"),
        };
        let delivery = Uuid::new_v4().to_string();
        for attempt in 1..=self.max_attempts {
            match self.send(url, &delivery, &body).await {
                Sent::Done => {
                    return info!(job_id = %event.job_id, attempt, "webhook delivered");
                }
                Sent::Final(why) => {
                    return warn!(job_id = %event.job_id, %why, "webhook refused; not retried");
                }
                Sent::Retry(why) if attempt < self.max_attempts => {
                    debug!(job_id = %event.job_id, attempt, %why, "webhook failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
                Sent::Retry(why) => {
                    warn!(job_id = %event.job_id, attempts = attempt, %why, "webhook given up");
                }
            }
        }
    }

    async fn send(&self, url: &str, delivery: &str, body: &[u8]) -> Sent {
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("docfleet-delivery", delivery)
            .body(body.to_vec());
        if let Some(secret) = &self.secret {
            let ts = docfleet_pipeline::artifacts::now_unix_secs();
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
