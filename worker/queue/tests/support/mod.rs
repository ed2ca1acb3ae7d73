//! Per-adapter helpers for the adapter tests and the contract's harnesses: unique queues for
//! each test, and raw access to what the seam does not show (dead letters, commits).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test crate uses a subset

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod rabbitmq;
#[cfg(feature = "sqs")]
pub mod sqs;
