//! One place per seam to choose an adapter: each constructor here reads the settings and opens
//! the adapter they name, for the CLI commands, the worker and the API alike.
//!
//! - job_store.rs: PostgreSQL or SQLite (`open_job_store`).
//! - queue.rs: the local queue, RabbitMQ, SQS or Kafka (`open_consumer`, `open_producer`,
//!   `init_queues`).
//! - index.rs: the embedded index or a Qdrant server (`open_index`; `Indexes` for the API).
//! - object_store.rs: a folder or an S3 bucket (`open_object_store`), and the source reader.
//! - extractor.rs: extractor child processes or in-process extraction (`build_extractor`).
//! - models.rs: the embedding model (`load_embedder`) and a worker's set of loaded models.
//! - pipelines.rs: all of the above as one processor per job (`build_pipelines`).

mod extractor;
mod index;
mod job_store;
mod models;
mod object_store;
mod pipelines;
mod queue;

pub use index::{IndexAccess, Indexes, OpenIndexError, index_location, open_index};
pub use job_store::open_job_store;
pub use models::load_embedder;
pub use object_store::{open_object_store, source_reader};
pub use pipelines::{JobPipeline, Pipelines, build_pipelines, build_processor};
pub use queue::{ConsumerOptions, init_queues, open_consumer, open_producer};
