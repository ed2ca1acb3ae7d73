//! Shared by the adapter tests and the contract suite (which the job store's tests include too,
//! so this uses nothing but the queue seam and the job message).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test crate uses a subset

use std::time::{Duration, Instant};

use docfleet_core::job::{JobMessage, JobOptions};
use docfleet_queue::{Delivery, JobQueue, TraceContext};

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

/// Receives until `n` deliveries came or `within` passed (each call waits at most 2 s, so a
/// broker whose wait is coarse, SQS's whole seconds, cannot overshoot much).
pub async fn receive_n(q: &(impl JobQueue + ?Sized), n: usize, within: Duration) -> Vec<Delivery> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let wait = left.min(Duration::from_secs(2));
        out.extend(q.receive(n - out.len(), wait).await.expect("receive"));
    }
    out
}

/// The job message a delivery carries.
pub fn body_of(d: &Delivery) -> JobMessage {
    JobMessage::parse(&d.body).expect("a job message")
}

pub fn job_id(d: &Delivery) -> uuid::Uuid {
    body_of(d).job_id
}
