//! Options shared by the commands, one file per subject. Every option is also an environment
//! variable (`DOCFLEET_…`); the command line wins over the environment, which wins over the
//! default. Each adapter's options (S3, Qdrant, RabbitMQ, SQS, Kafka) have their own struct and
//! convert to that adapter's config in one place; which adapter runs is `crate::wiring`'s
//! choice (settings never open anything).
//!
//! - common.rs: data dir, model folder, device, tenant (global flags), with storage and index.
//! - models.rs: the fleet's models (`DOCFLEET_MODELS`), each one's folder and index.
//! - storage.rs: the object store and S3; index.rs: the Qdrant server.
//! - queue.rs: the queue kind, RabbitMQ, SQS and Kafka; job_store.rs: the job store.
//! - pipeline.rs: chunking, limits, extraction and OCR.
//! - api.rs: the HTTP API and its key pepper; worker.rs: how the worker runs jobs.
//! - secrets.rs: what `docfleet config` and messages never show.

mod api;
mod common;
mod index;
mod job_store;
mod models;
mod pipeline;
mod queue;
mod secrets;
mod storage;
mod worker;

pub use api::{ApiOpts, KeyOpts};
pub use common::{CommonOpts, EmbedBackend, EmbedPrecisionOpt};
pub use job_store::StoreOpts;
pub use models::DEFAULT_MODEL;
pub use pipeline::{OcrModeOpt, PipelineOpts};
pub use queue::{QueueKind, QueueOpts};
pub use secrets::redact;
pub use worker::WorkerOpts;
