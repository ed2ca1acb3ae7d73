//! What the queue, the job store, the pipeline and the binary share, and nothing heavy (no
//! runtime, no model stack), so that a queue or job store adapter builds on its own.
//!
//! [`job`] is the message a queue carries, [`tenant`] and [`source`] validate what it names,
//! [`time`] is the one wall clock, and `aws` (feature `aws`) the AWS SDK configuration.

#[cfg(feature = "aws")]
pub mod aws;
pub mod job;
pub mod source;
pub mod tenant;
pub mod time;
