//! Settings of the RabbitMQ adapter.

use std::time::Duration;

use crate::{Error, Result};

/// Default URL of a local broker.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// RabbitMQ's default `consumer_timeout` (rabbitmq.conf), 30 minutes.
pub const DEFAULT_CONSUMER_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone)]
pub struct RabbitConfig {
    /// `amqp://user:pass@host:port/vhost` (vhost URL-encoded: `%2f` is `/`). No TLS in this build.
    pub url: String,
    /// The job queue; `<queue>.dlq`, `<queue>.dlx` and `<queue>.retry.<ms>` are derived from it.
    pub queue: String,
    /// Unacknowledged deliveries this consumer may hold (`basic.qos`): the worker's concurrency.
    pub prefetch: u16,
    /// `x-delivery-limit` of the queue: deliveries that end without a verdict (worker crash, lost
    /// connection, consumer timeout) after which the broker dead-letters the message. Retries and
    /// releases publish a fresh copy and do not count here; the runtime's `max_attempts` bounds
    /// those through [`crate::Delivery::attempt`]. Part of the queue's identity: changing it on an
    /// existing queue fails the declaration (use a policy to change it in place).
    pub delivery_limit: u32,
    /// The broker's `consumer_timeout` (it cannot be read over AMQP, so say it here). RabbitMQ
    /// closes the channel of a delivery left unacknowledged for longer, and the message is
    /// delivered again: a job must finish within it. `extend` warns when a job gets close.
    pub consumer_timeout: Duration,
    /// Longest delay `retry` honours; longer ones are cut to this.
    pub max_retry_delay: Duration,
    /// Reconnect backoff: exponential with jitter from `reconnect_min_delay`, capped at
    /// `reconnect_max_delay`, at most `reconnect_max_times` tries per call before it fails with a
    /// retryable [`Error::Unavailable`].
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
    pub reconnect_max_times: usize,
    /// Shown by `rabbitmqctl list_connections client_properties` and the management UI.
    pub connection_name: String,
}

impl RabbitConfig {
    pub fn new(url: impl Into<String>, queue: impl Into<String>, prefetch: u16) -> Self {
        Self {
            url: url.into(),
            queue: queue.into(),
            prefetch,
            delivery_limit: 5,
            consumer_timeout: DEFAULT_CONSUMER_TIMEOUT,
            max_retry_delay: Duration::from_secs(60 * 60),
            reconnect_min_delay: Duration::from_millis(100),
            reconnect_max_delay: Duration::from_secs(10),
            reconnect_max_times: 8,
            connection_name: "docfleet".to_owned(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let q = &self.queue;
        // Derived names add up to 27 characters (".retry." and a delay in ms); AMQP names are
        // limited to 255 bytes.
        let name_ok = !q.is_empty()
            && q.len() <= 200
            && !q.starts_with("amq.")
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !name_ok {
            return Err(Error::Config(format!(
                "queue name {q:?}: use 1-200 characters from A-Z, a-z, 0-9, '-', '_', '.', ':' \
                 (not starting with \"amq.\")"
            )));
        }
        if self.prefetch == 0 {
            return Err(Error::Config(
                "prefetch must be at least 1 (0 means unlimited in AMQP)".into(),
            ));
        }
        if self.delivery_limit == 0 {
            return Err(Error::Config("delivery_limit must be at least 1".into()));
        }
        if self.reconnect_min_delay > self.reconnect_max_delay {
            return Err(Error::Config(
                "reconnect_min_delay is over reconnect_max_delay".into(),
            ));
        }
        Ok(())
    }
}

/// The delay a retry actually waits: `after` in whole milliseconds, rounded up to 4 significant
/// bits (at most 12.5 % longer, never shorter), so that retries share a bounded set of delay
/// queues (about 8 per doubling) instead of one queue per jittered value.
pub(crate) fn retry_bucket_ms(after: Duration, max: Duration) -> u64 {
    let ms = after.min(max).as_nanos().div_ceil(1_000_000);
    let ms = u64::try_from(ms).unwrap_or(u64::MAX).max(1);
    let bits = 64 - ms.leading_zeros();
    if bits <= 4 {
        return ms;
    }
    let shift = bits - 4;
    let step = 1u64 << shift;
    ms.div_ceil(step).saturating_mul(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up_by_at_most_an_eighth() {
        let max = Duration::from_secs(3600);
        assert_eq!(retry_bucket_ms(Duration::ZERO, max), 1);
        assert_eq!(retry_bucket_ms(Duration::from_micros(1500), max), 2);
        assert_eq!(retry_bucket_ms(Duration::from_millis(15), max), 15);
        assert_eq!(retry_bucket_ms(Duration::from_millis(300), max), 320);
        assert_eq!(retry_bucket_ms(Duration::from_millis(1024), max), 1024);
        assert_eq!(retry_bucket_ms(Duration::from_secs(7200), max), 3_670_016);
        for ms in 1..20_000u64 {
            let b = retry_bucket_ms(Duration::from_millis(ms), max);
            assert!(b >= ms && b * 8 <= ms * 9, "{ms} -> {b}");
        }
        let distinct: std::collections::BTreeSet<u64> = (1..=60_000u64)
            .map(|ms| retry_bucket_ms(Duration::from_millis(ms), max))
            .collect();
        assert!(distinct.len() < 150, "{}", distinct.len());
    }

    #[test]
    fn validates_names_and_limits() {
        let ok = RabbitConfig::new(DEFAULT_AMQP_URL, "docfleet.jobs", 4);
        ok.validate().unwrap();
        for bad in ["", "amq.x", "a b", "ü", &"x".repeat(201)] {
            let mut c = ok.clone();
            c.queue = bad.to_owned();
            assert!(matches!(c.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        let mut c = ok.clone();
        c.prefetch = 0;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.delivery_limit = 0;
        assert!(c.validate().is_err());
    }
}
