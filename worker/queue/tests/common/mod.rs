//! Shared by the adapter tests.
#![allow(clippy::unwrap_used)]

use docfleet_pipeline::job::{JobMessage, JobOptions};

/// A valid job message for document `n`.
pub fn job(n: usize) -> JobMessage {
    JobMessage::new(
        "acme",
        &format!("file:///data/doc-{n}.pdf"),
        JobOptions::default(),
    )
    .unwrap()
}
