//! Retry timing: the delay before a failed job's next attempt (exponential with jitter, from
//! `backon`), and short in-process retries of the store and broker calls that settle a job.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// Delays between a job's attempts.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based): `min_delay` × 2^(attempt−1), capped at
    /// `max_delay`, with up to +100% jitter (backon's) so that a burst of failures does not come
    /// back as a burst.
    pub fn delay(&self, attempt: u32) -> Duration {
        let n = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX);
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(n)
            .unwrap_or(self.max_delay)
            .min(self.max_delay.saturating_mul(2))
    }
}

/// Runs `op` until it succeeds, it fails with an error that is not retryable, or about 10 s of
/// attempts have passed: for the calls that make a verdict durable (a job row update, an ack),
/// which should ride out a brief outage rather than redo the whole job.
pub async fn durably<T, E, F, Fut>(op: F, is_retryable: fn(&E) -> bool) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    op.retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(3))
            .with_jitter()
            .with_max_times(6),
    )
    .when(is_retryable)
    .notify(|e, after| tracing::warn!(error = %e, ?after, "retrying a job store or broker call"))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn delays_double_with_jitter_and_are_capped() {
        let p = RetryPolicy {
            min_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let first = p.delay(1);
            assert!(first >= Duration::from_secs(2) && first <= Duration::from_secs(4));
            let third = p.delay(3);
            assert!(third >= Duration::from_secs(8) && third <= Duration::from_secs(16));
            assert!(p.delay(30) <= Duration::from_secs(120));
            assert!(p.delay(30) >= Duration::from_secs(60));
        }
    }

    #[tokio::test]
    async fn durably_retries_transient_errors_only() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, String> = durably(
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 { Err("busy".to_owned()) } else { Ok(n) }
            },
            |e: &String| e == "busy",
        )
        .await;
        assert_eq!(r, Ok(2));
        let calls = AtomicU32::new(0);
        let r: Result<u32, String> = durably(
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("bad".to_owned())
            },
            |e: &String| e == "busy",
        )
        .await;
        assert_eq!(r, Err("bad".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
