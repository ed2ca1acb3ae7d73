//! Settings of the SQS adapter.

use std::time::Duration;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The job queue's name (`<name>-dlq` is its dead-letter queue); resolved to a URL at connect.
    pub queue: String,
    /// Endpoint override (moto, LocalStack, ElasticMQ); `None`: AWS's, from the region.
    pub endpoint_url: Option<String>,
    /// `None`: from the usual AWS chain (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// Visibility timeout of a received message: how long it stays this worker's without a
    /// heartbeat (`extend`). The worker's lease.
    pub visibility_timeout: Duration,
    /// Receives after which SQS moves a message to the DLQ itself (redrive `maxReceiveCount`),
    /// used by `create_queues`. The safety net for a message that kills its worker.
    pub max_receive_count: u32,
}

/// SQS limits: 20 s long polling, 10 messages a receive, 12 h visibility.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
pub const MAX_BATCH: usize = 10;
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

impl SqsConfig {
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            endpoint_url: None,
            region: None,
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
        }
    }

    pub fn dlq_name(&self) -> String {
        format!("{}-dlq", self.queue)
    }

    pub fn validate(&self) -> Result<()> {
        let q = &self.queue;
        // SQS names: 1-80 of [A-Za-z0-9_-]; "-dlq" is added for the dead-letter queue.
        let ok = !q.is_empty()
            && q.len() <= 76
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::Config(format!(
                "SQS queue name {q:?}: use 1-76 characters from A-Z, a-z, 0-9, '-' and '_'"
            )));
        }
        if self.max_receive_count == 0 {
            return Err(Error::Config("max_receive_count must be at least 1".into()));
        }
        Ok(())
    }
}

/// Whole seconds for a visibility timeout: rounded up, within SQS's 0..=12 h.
pub(crate) fn visibility_secs(d: Duration) -> i32 {
    let secs = d.min(MAX_VISIBILITY).as_millis().div_ceil(1000);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_visibility() {
        SqsConfig::new("docfleet-jobs").validate().unwrap();
        for bad in ["", "a.b", "a b", &"x".repeat(77)] {
            assert!(SqsConfig::new(bad).validate().is_err(), "{bad:?}");
        }
        assert_eq!(SqsConfig::new("q").dlq_name(), "q-dlq");
        assert_eq!(visibility_secs(Duration::from_millis(1)), 1);
        assert_eq!(visibility_secs(Duration::ZERO), 0);
        assert_eq!(visibility_secs(Duration::from_secs(99_999)), 43_200);
    }
}
