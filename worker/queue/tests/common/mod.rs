//! Shared by the adapter tests.
#![allow(clippy::unwrap_used, dead_code)] // each test crate uses a subset

use docfleet_core::job::{JobMessage, JobOptions};
use docfleet_queue::TraceContext;

/// A valid job message for document `n`.
pub fn job(n: usize) -> JobMessage {
    JobMessage::new(
        "acme",
        &format!("file:///data/doc-{n}.pdf"),
        JobOptions::default(),
    )
    .unwrap()
}

/// A submitter's W3C trace context (the recommendation's example values).
pub fn trace() -> TraceContext {
    TraceContext {
        traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        tracestate: Some("congo=t61rcWkgMzE".into()),
    }
}
