//! W3C trace context (`traceparent`, `tracestate`) carried beside a job message, so that the
//! worker's spans join the trace of the API request that submitted the job. Each adapter keeps it
//! in the broker's own metadata (RabbitMQ and Kafka headers, SQS message attributes; the job row
//! for the job-table queue), never in the body, and every copy it republishes (retry, defer,
//! release, dead letter) keeps it.

use serde::{Deserialize, Serialize};

/// The header (or attribute) names, as the W3C Trace Context recommendation spells them.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// Longest value kept: a `traceparent` is 55 characters and a `tracestate` at most 512 by the
/// recommendation; anything longer is not a trace context and is dropped.
const MAX_VALUE_BYTES: usize = 1024;

/// A message's trace context; empty when the submitter had none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// From header values as a broker returns them; oversized or empty values are ignored.
    pub fn from_values(traceparent: Option<String>, tracestate: Option<String>) -> Self {
        let keep = |v: Option<String>| v.filter(|v| !v.is_empty() && v.len() <= MAX_VALUE_BYTES);
        Self {
            traceparent: keep(traceparent),
            tracestate: keep(tracestate),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.traceparent.is_none() && self.tracestate.is_none()
    }

    /// The (name, value) pairs to write as headers or attributes.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (TRACEPARENT, self.traceparent.as_deref()),
            (TRACESTATE, self.tracestate.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_skip_missing_values_and_from_values_drops_junk() {
        let t = TraceContext::from_values(
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            Some(String::new()),
        );
        assert_eq!(t.tracestate, None);
        assert_eq!(
            t.pairs().collect::<Vec<_>>(),
            [(
                TRACEPARENT,
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            )]
        );
        let huge = TraceContext::from_values(Some("x".repeat(2000)), None);
        assert!(huge.is_empty());
    }
}
