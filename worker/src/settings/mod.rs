//! Options shared by the commands. Every option is also an environment variable
//! (`DOCFLEET_…`); the command line wins over the environment, which wins over the default.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;

/// The name of `--model-dir`'s model in profiles and `DOCFLEET_MODELS`.
pub const DEFAULT_MODEL: &str = "default";

/// Where things live and who the work is for.
#[derive(Args, Debug, Clone, Serialize)]
pub struct CommonOpts {
    /// Data folder: the embedded index (index/) and the local object store (objects/).
    #[arg(
        long,
        env = "DOCFLEET_DATA_DIR",
        default_value = "./docfleet-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Model folder (config.json, model.safetensors, tokenizer.json, 1_Pooling/config.json).
    /// Default: the all-MiniLM-L6-v2 that ./scripts/setup installs in ~/.cache/docfleet.
    #[arg(long, env = "DOCFLEET_MODEL_DIR", global = true)]
    pub model_dir: Option<PathBuf>,
    /// More models a tenant profile may choose (`model = "<name>"`), as `name=folder` pairs
    /// separated by commas; `--model-dir` is the model named `default`. Each model's vectors
    /// live apart: `<data_dir>/index-<name>`, or the Qdrant collection `<collection>-<name>`.
    #[arg(long, env = "DOCFLEET_MODELS", value_delimiter = ',', global = true)]
    pub models: Vec<String>,
    /// Memory the loaded models may take together (their weights' size). A worker loads the
    /// models its tenants use on first use and unloads the least recently used idle one to make
    /// room; 0: no limit.
    #[arg(
        long,
        env = "DOCFLEET_MODEL_MEMORY_BUDGET_BYTES",
        default_value_t = 2 * 1024 * 1024 * 1024,
        global = true
    )]
    pub model_memory_budget_bytes: u64,
    /// How long a worker or API keeps a tenant's profile before reading it again: a new
    /// profile version applies fleet-wide within this time, without a restart.
    #[arg(
        long,
        env = "DOCFLEET_PROFILE_TTL_SECS",
        default_value_t = 5,
        global = true
    )]
    pub profile_ttl_secs: u64,
    /// The model these options are for (`None`: `default`); set by `for_model`, never a flag.
    #[arg(skip)]
    #[serde(skip)]
    pub model_name: Option<String>,
    /// Path of libpdfium.so. Default: ~/.cache/docfleet/pdfium/libpdfium.so (./scripts/setup).
    #[arg(long, env = "DOCFLEET_PDFIUM_LIB", global = true)]
    pub pdfium_lib: Option<PathBuf>,
    /// Path of libtesseract (OCR). Default: libtesseract.so.5 from the system's library path
    /// (Debian/Ubuntu `tesseract-ocr`, which ./scripts/setup installs).
    #[arg(long, env = "DOCFLEET_OCR_LIB", global = true)]
    pub ocr_lib: Option<PathBuf>,
    /// Tesseract's traineddata folder. Default: $TESSDATA_PREFIX, else the system's
    /// (/usr/share/tesseract-ocr/5/tessdata on Debian/Ubuntu).
    #[arg(long, env = "DOCFLEET_OCR_TESSDATA_DIR", global = true)]
    pub ocr_tessdata_dir: Option<PathBuf>,
    /// Tenant the documents belong to; every read is scoped to it.
    #[arg(
        long,
        env = "DOCFLEET_TENANT",
        default_value = "default",
        global = true
    )]
    pub tenant: String,
    /// Device for the model: auto (GPU when built with `cuda` and one is present), cpu, cuda[:N].
    #[arg(long, env = "DOCFLEET_DEVICE", default_value = "auto", global = true)]
    pub device: String,
    /// Threads of the CPU encoder, one batch each at a time; 0: one per core this process may
    /// use (its CPU affinity: `taskset -c 0` gives one).
    #[arg(
        long,
        env = "DOCFLEET_EMBED_THREADS",
        default_value_t = 0,
        global = true
    )]
    pub embed_threads: usize,
    /// Which encoder runs the model: `auto` (docfleet's CPU encoder on the CPU, candle on a GPU)
    /// or `candle` (candle's tensor ops on every device, for comparisons).
    #[arg(long, env = "DOCFLEET_EMBED_BACKEND", value_enum, default_value_t = EmbedBackend::Auto, global = true)]
    pub embed_backend: EmbedBackend,
    #[command(flatten)]
    pub storage: StorageOpts,
    #[command(flatten)]
    pub index: IndexOpts,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbedBackend {
    Auto,
    Candle,
}

/// Where vectors go: the embedded on-disk index (`<data_dir>/index`), or a Qdrant server.
#[derive(Args, Debug, Clone, Serialize)]
pub struct IndexOpts {
    /// Qdrant's gRPC URL (e.g. http://qdrant:6334). Unset: the embedded index in <data_dir>/index.
    #[arg(long, env = "DOCFLEET_QDRANT_URL", global = true)]
    pub qdrant_url: Option<String>,
    /// Qdrant API key (sent as `api-key`).
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_API_KEY",
        hide_env_values = true,
        global = true
    )]
    #[serde(serialize_with = "secret")]
    pub qdrant_api_key: Option<String>,
    /// The collection (shared tenancy), or the prefix of `<collection>_<tenant>` (per-tenant).
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_COLLECTION",
        default_value = "docfleet",
        global = true
    )]
    pub qdrant_collection: String,
    /// shared: one collection, filtered by tenant (Qdrant's recommendation); per-tenant: one
    /// collection per tenant.
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_TENANCY",
        value_enum,
        default_value = "shared",
        global = true
    )]
    pub qdrant_tenancy: QdrantTenancy,
    /// Points per upsert request.
    #[arg(long, env = "DOCFLEET_QDRANT_UPSERT_BATCH_POINTS", default_value_t = 128, global = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub qdrant_upsert_batch_points: u64,
    /// Upsert requests in flight at once per document.
    #[arg(long, env = "DOCFLEET_QDRANT_UPSERT_PARALLELISM", default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub qdrant_upsert_parallelism: u64,
    /// Timeout of one Qdrant request.
    #[arg(long, env = "DOCFLEET_QDRANT_TIMEOUT_SECS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub qdrant_timeout_secs: u64,
    /// Attempts per Qdrant request (unavailable, timeouts, rate limits are retried with backoff).
    #[arg(long, env = "DOCFLEET_QDRANT_MAX_ATTEMPTS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub qdrant_max_attempts: u32,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QdrantTenancy {
    Shared,
    PerTenant,
}

/// Where artifacts go and how S3 (sources and artifacts) is reached.
#[derive(Args, Debug, Clone, Serialize)]
pub struct StorageOpts {
    /// Artifact store: s3://bucket/prefix, or a folder. Default: <data_dir>/objects.
    #[arg(long, env = "DOCFLEET_OBJECT_STORE_URL", global = true)]
    pub object_store_url: Option<String>,
    /// S3 endpoint override (MinIO, moto, LocalStack). Default: AWS's (or AWS_ENDPOINT_URL).
    #[arg(long, env = "DOCFLEET_S3_ENDPOINT_URL", global = true)]
    pub s3_endpoint_url: Option<String>,
    /// Path-style S3 addressing (http://host/bucket/key): MinIO and most S3-compatible servers.
    #[arg(long, env = "DOCFLEET_S3_FORCE_PATH_STYLE", global = true)]
    pub s3_force_path_style: bool,
    /// Artifacts at least this large are uploaded in parts.
    #[arg(long, env = "DOCFLEET_S3_MULTIPART_THRESHOLD_BYTES", global = true,
          default_value_t = 16 * 1024 * 1024)]
    pub s3_multipart_threshold_bytes: u64,
    /// Part size of multipart uploads (S3's minimum is 5 MiB).
    #[arg(long, env = "DOCFLEET_S3_PART_BYTES", global = true, default_value_t = 8 * 1024 * 1024)]
    pub s3_part_bytes: u64,
    /// Attempts per S3 request (throttling, 5xx, timeouts are retried with backoff).
    #[arg(long, env = "DOCFLEET_S3_MAX_ATTEMPTS", global = true, default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub s3_max_attempts: u32,
    /// AWS region (S3 and SQS). Default: the AWS chain (AWS_REGION, profile).
    #[arg(long, env = "DOCFLEET_AWS_REGION", global = true)]
    pub aws_region: Option<String>,
}

impl StorageOpts {
    pub fn s3_config(&self) -> docfleet_pipeline::store::s3::S3Config {
        docfleet_pipeline::store::s3::S3Config {
            endpoint_url: self.s3_endpoint_url.clone(),
            region: self.aws_region.clone(),
            force_path_style: self.s3_force_path_style,
            multipart_threshold_bytes: self.s3_multipart_threshold_bytes,
            part_bytes: self.s3_part_bytes,
            max_attempts: self.s3_max_attempts,
        }
    }
}

/// How documents are processed.
#[derive(Args, Debug, Clone, Serialize)]
pub struct PipelineOpts {
    /// Tokens per chunk, special tokens included.
    #[arg(long, env = "DOCFLEET_CHUNK_MAX_TOKENS", default_value_t = 256)]
    pub chunk_max_tokens: usize,
    /// Tokens shared by consecutive chunks.
    #[arg(long, env = "DOCFLEET_CHUNK_OVERLAP_TOKENS", default_value_t = 32)]
    pub chunk_overlap_tokens: usize,
    /// Larger files fail without being read.
    #[arg(long, env = "DOCFLEET_MAX_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_file_bytes: u64,
    /// Documents with more pages fail before extraction.
    #[arg(long, env = "DOCFLEET_MAX_PAGES", default_value_t = 5000)]
    pub max_pages: u64,
    /// Tokens per forward pass of the model: real tokens on the CPU encoder (no padding),
    /// padded tokens (texts × longest text) on candle's.
    #[arg(long, env = "DOCFLEET_EMBED_BATCH_TOKENS", default_value_t = 4096)]
    pub embed_batch_tokens: usize,
    /// Documents in flight at once (extraction of the next overlaps embedding of the current).
    #[arg(long, env = "DOCFLEET_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Child processes that extract documents, one document each at a time (a crash or hang
    /// fails only that document). 0 extracts inside this process: no isolation, for debugging.
    #[arg(long, env = "DOCFLEET_EXTRACT_PROCESSES", default_value_t = 2)]
    pub extract_processes: usize,
    /// A document whose extraction takes longer fails and its extractor process is killed.
    #[arg(long, env = "DOCFLEET_EXTRACT_TIMEOUT_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub extract_timeout_secs: u64,
    #[command(flatten)]
    pub ocr: OcrOpts,
}

/// Optical character recognition (Tesseract) of image files and scanned PDF pages.
#[derive(Args, Debug, Clone, Serialize)]
pub struct OcrOpts {
    /// `auto`: image files and PDF pages without a text layer; `force`: every PDF page too;
    /// `off`: none (images and scanned PDFs fail).
    #[arg(long = "ocr", env = "DOCFLEET_OCR", value_enum, default_value_t = OcrModeOpt::Auto)]
    pub mode: OcrModeOpt,
    /// Tesseract languages, joined by `+` (`eng+deu`); each needs its traineddata
    /// (Debian: tesseract-ocr-<lang>). Checked at start.
    #[arg(long, env = "DOCFLEET_OCR_LANGUAGES", default_value = "eng")]
    pub ocr_languages: String,
    /// Resolution PDF pages are rendered at for OCR.
    #[arg(long, env = "DOCFLEET_OCR_DPI", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(72..=1200))]
    pub ocr_dpi: u32,
    /// Pixels of one page: a rendered PDF page is scaled down to fit, a larger image fails.
    #[arg(long, env = "DOCFLEET_OCR_MAX_PIXELS", default_value_t = 40_000_000)]
    pub ocr_max_pixels: u64,
    /// Recognition of one page that takes longer fails the document.
    #[arg(long, env = "DOCFLEET_OCR_PAGE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ocr_page_timeout_secs: u64,
    /// Pages of one document that may need OCR; more fail the document before any is read.
    #[arg(long, env = "DOCFLEET_OCR_MAX_PAGES", default_value_t = 1000)]
    pub ocr_max_pages: u64,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrModeOpt {
    Off,
    Auto,
    Force,
}

impl From<OcrModeOpt> for docfleet_pipeline::extract::OcrMode {
    fn from(mode: OcrModeOpt) -> Self {
        use docfleet_pipeline::extract::OcrMode;
        match mode {
            OcrModeOpt::Off => OcrMode::Off,
            OcrModeOpt::Auto => OcrMode::Auto,
            OcrModeOpt::Force => OcrMode::Force,
        }
    }
}

impl PipelineOpts {
    /// What each document's extraction gets, unless a tenant profile changes it.
    pub fn extract_options(&self) -> docfleet_pipeline::extract::ExtractOptions {
        docfleet_pipeline::extract::ExtractOptions {
            max_pages: self.max_pages,
            ocr: self.ocr.settings(),
        }
    }
}

impl OcrOpts {
    pub fn settings(&self) -> docfleet_pipeline::extract::OcrSettings {
        use docfleet_pipeline::extract::OcrSettings;
        OcrSettings {
            mode: self.mode.into(),
            languages: self.ocr_languages.clone(),
            dpi: self.ocr_dpi,
            max_pixels: self.ocr_max_pixels,
            page_timeout_secs: self.ocr_page_timeout_secs,
            max_pages: self.ocr_max_pages,
        }
    }
}

/// Which queue carries the jobs.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// The job table itself (no broker): SQLite by default, or PostgreSQL.
    Local,
    /// RabbitMQ (quorum queue, dead-letter queue, delay queues for retries).
    Rabbitmq,
    /// Amazon SQS (or an SQS-compatible server): queue + `<name>-dlq` with a redrive policy.
    Sqs,
    /// Kafka: the jobs topic `<name>`, `<name>.retry` (delayed retries) and `<name>.dlq`.
    Kafka,
}

/// Where job state lives.
#[derive(Args, Debug, Clone, Serialize)]
pub struct StoreOpts {
    /// Job store: postgres://…, sqlite:… or a file path. Default: <data_dir>/jobs.sqlite.
    #[arg(long, env = "DOCFLEET_JOB_STORE_URL")]
    #[serde(serialize_with = "optional_url_without_password")]
    pub job_store_url: Option<String>,
    /// Attempts a job gets before it is dead-lettered (written into each job row at enqueue).
    #[arg(long, env = "DOCFLEET_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
}

/// Which queue, and how to reach it.
#[derive(Args, Debug, Clone, Serialize)]
pub struct QueueOpts {
    /// Queue kind.
    #[arg(
        long = "queue",
        env = "DOCFLEET_QUEUE",
        value_enum,
        default_value = "local"
    )]
    pub kind: QueueKind,
    /// RabbitMQ URL (amqp://user:pass@host:port/vhost, vhost URL-encoded).
    #[arg(long, env = "DOCFLEET_AMQP_URL", default_value = docfleet_queue::rabbitmq::DEFAULT_AMQP_URL)]
    #[serde(serialize_with = "url_without_password")]
    pub amqp_url: String,
    /// Queue name (RabbitMQ derives <name>.dlq, <name>.dlx and <name>.retry.<ms> from it).
    #[arg(long, env = "DOCFLEET_QUEUE_NAME", default_value = "docfleet.jobs")]
    pub queue_name: String,
    /// RabbitMQ `x-delivery-limit`: deliveries without a verdict (crashed worker, lost
    /// connection) before the broker dead-letters a message. Fixed when the queue is created.
    #[arg(long, env = "DOCFLEET_DELIVERY_LIMIT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub delivery_limit: u32,
    /// The broker's consumer_timeout (rabbitmq.conf): a job must finish within it.
    #[arg(
        long,
        env = "DOCFLEET_RABBITMQ_CONSUMER_TIMEOUT_SECS",
        default_value_t = 1800
    )]
    pub rabbitmq_consumer_timeout_secs: u64,
    /// SQS endpoint override (moto, LocalStack, ElasticMQ). Default: AWS's (or AWS_ENDPOINT_URL).
    #[arg(long, env = "DOCFLEET_SQS_ENDPOINT_URL")]
    pub sqs_endpoint_url: Option<String>,
    /// SQS redrive maxReceiveCount set by `docfleet queues init`: receives (each retry is one;
    /// deferrals and releases are not) before SQS moves a message to `<name>-dlq` itself. Keep it
    /// at least max_attempts, so the runtime dead-letters with the reason first.
    #[arg(long, env = "DOCFLEET_SQS_MAX_RECEIVE_COUNT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sqs_max_receive_count: u32,
    /// Kafka bootstrap servers (host:port,…).
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_bootstrap_servers: String,
    /// Kafka consumer group of the workers.
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_GROUP_ID",
        default_value = "docfleet-workers"
    )]
    pub kafka_group_id: String,
    /// Partitions of the topics `docfleet queues init` creates: the most workers that share
    /// the jobs at once.
    #[arg(long, env = "DOCFLEET_KAFKA_PARTITIONS", default_value_t = 12,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_partitions: i32,
    /// Replication factor of the topics `docfleet queues init` creates (3 on a production
    /// cluster).
    #[arg(long, env = "DOCFLEET_KAFKA_REPLICATION_FACTOR", default_value_t = 1,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_replication_factor: i32,
    /// A worker that stops heartbeating for this long loses its partitions to the others.
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_SESSION_TIMEOUT_MS",
        default_value_t = 45_000
    )]
    pub kafka_session_timeout_ms: u64,
    /// Extra librdkafka properties, `key=value` separated by commas (e.g.
    /// `security.protocol=SASL_SSL,sasl.mechanism=SCRAM-SHA-512`); secrets are better given as
    /// `DOCFLEET_KAFKA_PROPERTIES` than as a flag.
    #[arg(long, env = "DOCFLEET_KAFKA_PROPERTIES", default_value = "")]
    #[serde(serialize_with = "secret_properties")]
    pub kafka_properties: String,
}

/// The HTTP API.
#[derive(Args, Debug, Clone, Serialize)]
pub struct ApiOpts {
    /// Address the API listens on (port 0 picks a free port).
    #[arg(long, env = "DOCFLEET_API_ADDR", default_value = "0.0.0.0:8080")]
    pub api_addr: String,
    /// Largest request body accepted.
    #[arg(long, env = "DOCFLEET_API_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub api_max_body_bytes: usize,
    /// Largest document accepted by upload (multipart `POST /v1/jobs`).
    #[arg(long, env = "DOCFLEET_API_MAX_UPLOAD_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub api_max_upload_bytes: usize,
    /// Accept file:// sources (files on the API and worker hosts). Off by default: with it, any
    /// tenant could have any file the workers can read indexed. For single-user setups.
    #[arg(long, env = "DOCFLEET_API_ALLOW_FILE_SOURCES")]
    pub api_allow_file_sources: bool,
    /// s3://bucket/prefix patterns (comma-separated) that sources must lie under, `{tenant}`
    /// standing for the caller's tenant (e.g. `s3://inbox/{tenant}/`). Empty: any bucket the
    /// workers can read, except the fleet's own object store, which is always refused.
    #[arg(long, env = "DOCFLEET_API_SOURCE_PREFIXES", value_delimiter = ',')]
    pub api_source_prefixes: Vec<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub keys: KeyOpts,
}

/// The API key pepper, read by `docfleet api` and `docfleet keys create`.
#[derive(Args, Debug, Clone, Serialize)]
pub struct KeyOpts {
    /// Server-side secret mixed into the stored API key hashes; the same on every API instance.
    /// Default: a random one kept in <data_dir>/api-key-pepper (single machine only).
    #[arg(long, env = "DOCFLEET_API_KEY_PEPPER", hide_env_values = true)]
    #[serde(serialize_with = "secret")]
    pub api_key_pepper: Option<String>,
}

impl KeyOpts {
    /// The configured pepper, or the data dir's (made on first use).
    pub fn pepper(&self, common: &CommonOpts) -> Result<Vec<u8>> {
        crate::auth::pepper(self.api_key_pepper.as_deref(), &common.data_dir)
    }
}

/// How the worker runs jobs.
#[derive(Args, Debug, Clone, Serialize)]
pub struct WorkerOpts {
    /// Name of this worker in job rows and logs. Default: <hostname>-<pid>.
    #[arg(long, env = "DOCFLEET_WORKER_ID")]
    pub worker_id: Option<String>,
    /// A running job's lease; renewed every third of it. A crashed worker's job is taken over
    /// once its lease has run out.
    #[arg(long, env = "DOCFLEET_LEASE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(3..))]
    pub lease_secs: u64,
    /// On SIGTERM/SIGINT: time for in-flight jobs to finish before they are given back.
    #[arg(long, env = "DOCFLEET_DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    pub drain_timeout_secs: u64,
    /// First retry delay of a failed attempt; doubles per attempt, with jitter.
    #[arg(long, env = "DOCFLEET_RETRY_MIN_DELAY_SECS", default_value_t = 5)]
    pub retry_min_delay_secs: u64,
    /// Longest retry delay.
    #[arg(long, env = "DOCFLEET_RETRY_MAX_DELAY_SECS", default_value_t = 600)]
    pub retry_max_delay_secs: u64,
    /// How often an idle worker on the local queue looks for new jobs.
    #[arg(long, env = "DOCFLEET_POLL_INTERVAL_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_interval_ms: u64,
    /// Address of /healthz, /readyz and /metrics ("off" to disable; port 0 picks a free port).
    #[arg(long, env = "DOCFLEET_OPS_ADDR", default_value = "0.0.0.0:9090")]
    pub ops_addr: String,
    /// Secret that signs job callbacks (`Docfleet-Signature`, HMAC-SHA256); unset: unsigned.
    #[arg(long, env = "DOCFLEET_WEBHOOK_SECRET", hide_env_values = true)]
    #[serde(serialize_with = "secret")]
    pub webhook_secret: Option<String>,
    /// Attempts per job callback (connection errors, timeouts, 408, 429, 5xx are retried).
    #[arg(long, env = "DOCFLEET_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,
    /// Exit (0) once no job is queued or running: for batch runs.
    #[arg(long, env = "DOCFLEET_EXIT_WHEN_IDLE")]
    pub exit_when_idle: bool,
}

// Serialisers for `docfleet config`: secrets never printed.

fn secret<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().map(|_| "***").serialize(s)
}

fn url_without_password<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    crate::wiring::queue::redact(v).serialize(s)
}

fn optional_url_without_password<S: serde::Serializer>(
    v: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    v.as_deref().map(crate::wiring::queue::redact).serialize(s)
}

/// `k=v` pairs with the values of credential-like keys (password, secret, key, token) hidden.
fn secret_properties<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    let shown: Vec<String> = v
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|e| match e.split_once('=') {
            Some((k, _))
                if ["password", "secret", "key", "token", "jaas"]
                    .iter()
                    .any(|w| k.to_lowercase().contains(w)) =>
            {
                format!("{}=***", k.trim())
            }
            _ => e.trim().to_owned(),
        })
        .collect();
    shown.join(",").serialize(s)
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Local => "local",
            QueueKind::Rabbitmq => "rabbitmq",
            QueueKind::Sqs => "sqs",
            QueueKind::Kafka => "kafka",
        }
    }
}

impl StoreOpts {
    pub fn url(&self, common: &CommonOpts) -> String {
        self.job_store_url.clone().unwrap_or_else(|| {
            common
                .data_dir
                .join("jobs.sqlite")
                .to_string_lossy()
                .into_owned()
        })
    }
}

impl CommonOpts {
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(docfleet_models::default_model_dir)
    }

    pub fn pdfium_lib(&self) -> PathBuf {
        self.pdfium_lib.clone().unwrap_or_else(|| {
            docfleet_models::cache_dir()
                .join("pdfium")
                .join("libpdfium.so")
        })
    }

    /// Where Tesseract is, for the extractors.
    pub fn ocr_install(&self) -> docfleet_pipeline::extract::OcrInstall {
        docfleet_pipeline::extract::OcrInstall {
            lib_path: self.ocr_lib.clone(),
            tessdata_dir: self.ocr_tessdata_dir.clone(),
        }
    }

    /// The default model's index, or `index-<name>` for another model's.
    pub fn index_dir(&self) -> PathBuf {
        match &self.model_name {
            None => self.data_dir.join("index"),
            Some(name) => self.data_dir.join(format!("index-{name}")),
        }
    }

    /// The Qdrant collection (or per-tenant prefix) of this model's vectors.
    pub fn qdrant_collection(&self) -> String {
        match &self.model_name {
            None => self.index.qdrant_collection.clone(),
            Some(name) => format!("{}-{name}", self.index.qdrant_collection),
        }
    }

    /// The fleet's model names: `default` and those of `--models`.
    pub fn model_names(&self) -> Result<Vec<String>> {
        let mut names = vec![DEFAULT_MODEL.to_owned()];
        for (name, _) in self.extra_models()? {
            names.push(name);
        }
        Ok(names)
    }

    fn extra_models(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for entry in self.models.iter().filter(|e| !e.trim().is_empty()) {
            let Some((name, dir)) = entry.split_once('=') else {
                bail!("DOCFLEET_MODELS entry {entry:?}: expected name=folder");
            };
            let name = name.trim();
            crate::profile::validate_model_name(name)?;
            if name == DEFAULT_MODEL || out.iter().any(|(n, _)| n == name) {
                bail!("DOCFLEET_MODELS names the model {name:?} twice (default is --model-dir)");
            }
            out.push((name.to_owned(), PathBuf::from(dir.trim())));
        }
        Ok(out)
    }

    /// The fleet's models that may hold vectors: the default model always (its embedded index
    /// is made on first use), the others when they have a Qdrant collection to ask or an
    /// embedded index folder (made by their first write). Deletes and retention go over these.
    pub fn indexed_models(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for name in self.model_names()? {
            let model = self.for_model(&name)?;
            if name == DEFAULT_MODEL
                || model.index.qdrant_url.is_some()
                || model.index_dir().exists()
            {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// These options for the model `name`: its folder, its index and collection. An unknown
    /// name is an error that lists the fleet's models.
    pub fn for_model(&self, name: &str) -> Result<CommonOpts> {
        if name == DEFAULT_MODEL {
            return Ok(CommonOpts {
                model_name: None,
                ..self.clone()
            });
        }
        let Some((_, dir)) = self.extra_models()?.into_iter().find(|(n, _)| n == name) else {
            bail!(
                "unknown model {name:?}: this fleet has {} (DOCFLEET_MODELS)",
                self.model_names()?.join(", ")
            );
        };
        Ok(CommonOpts {
            model_dir: Some(dir),
            model_name: Some(name.to_owned()),
            ..self.clone()
        })
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// The tenant, checked: it becomes an object key prefix, so only a safe alphabet.
    pub fn tenant(&self) -> Result<&str> {
        docfleet_pipeline::job::validate_tenant(&self.tenant)?;
        Ok(&self.tenant)
    }

    pub fn device(&self) -> Result<docfleet_models::DeviceChoice> {
        use docfleet_models::DeviceChoice;
        Ok(match self.device.as_str() {
            "auto" => DeviceChoice::Auto,
            "cpu" => DeviceChoice::Cpu,
            "cuda" => DeviceChoice::Cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => DeviceChoice::Cuda(n),
                _ => bail!("invalid device {other:?}: use auto, cpu, cuda or cuda:N"),
            },
        })
    }

    /// How the embedding model runs, with a forward pass of at most `max_batch_tokens` tokens.
    pub fn embedder_options(
        &self,
        max_batch_tokens: usize,
    ) -> Result<docfleet_models::EmbedderOptions> {
        Ok(docfleet_models::EmbedderOptions {
            max_batch_tokens,
            device: self.device()?,
            backend: match self.embed_backend {
                EmbedBackend::Auto => docfleet_models::Backend::Auto,
                EmbedBackend::Candle => docfleet_models::Backend::Candle,
            },
            threads: self.embed_threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonOpts,
    }

    #[test]
    fn tenant_and_device_are_validated() {
        let cli = Cli::parse_from(["x", "--tenant", "../etc", "--device", "gpu"]);
        assert!(cli.common.tenant().is_err());
        assert!(cli.common.device().is_err());
        let cli = Cli::parse_from(["x", "--tenant", "acme_1", "--device", "cuda:1"]);
        assert_eq!(cli.common.tenant().unwrap(), "acme_1");
        assert!(matches!(
            cli.common.device().unwrap(),
            docfleet_models::DeviceChoice::Cuda(1)
        ));
    }

    #[test]
    fn models_are_named_and_each_has_its_own_index() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let cli = Cli::parse_from(["x", "--data-dir", data, "--models", "mini2=/m/a,e5=/m/b"]);
        let c = &cli.common;
        assert_eq!(c.model_names().unwrap(), ["default", "mini2", "e5"]);
        let mini2 = c.for_model("mini2").unwrap();
        assert_eq!(mini2.model_dir(), PathBuf::from("/m/a"));
        assert_eq!(mini2.index_dir(), dir.path().join("index-mini2"));
        assert_eq!(mini2.qdrant_collection(), "docfleet-mini2");
        assert_eq!(
            c.for_model("default").unwrap().index_dir(),
            dir.path().join("index")
        );
        let unknown = c.for_model("big").unwrap_err().to_string();
        assert!(unknown.contains("default, mini2, e5"), "{unknown}");
        assert_eq!(
            c.indexed_models().unwrap(),
            ["default"],
            "no index-mini2 folder yet"
        );
        std::fs::create_dir(dir.path().join("index-mini2")).unwrap();
        assert_eq!(c.indexed_models().unwrap(), ["default", "mini2"]);
        for bad in ["mini2", "default=/m/a", "a=/x,a=/y", "Big=/x"] {
            let cli = Cli::parse_from(["x", "--models", bad]);
            assert!(cli.common.model_names().is_err(), "{bad}");
        }
    }

    #[derive(Parser)]
    struct Everything {
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        #[command(flatten)]
        api: ApiOpts,
    }

    #[test]
    fn config_output_hides_secrets() {
        let cli = Everything::parse_from([
            "x",
            "--job-store-url",
            "postgres://fleet:pg-secret@db/jobs",
            "--amqp-url",
            "amqp://guest:mq-secret@mq/%2f",
            "--kafka-properties",
            "security.protocol=SASL_SSL,sasl.password=k-secret,ssl.key.password=k2-secret",
            "--api-key-pepper",
            "pepper-secret-0123456789",
        ]);
        let out =
            serde_json::json!({"store": cli.store, "queue": cli.queue, "api": cli.api}).to_string();
        for secret in [
            "pg-secret",
            "mq-secret",
            "k-secret",
            "k2-secret",
            "pepper-secret",
        ] {
            assert!(!out.contains(secret), "{secret} printed: {out}");
        }
        assert!(out.contains("postgres://fleet:***@db/jobs"), "{out}");
        assert!(out.contains("security.protocol=SASL_SSL"), "{out}");
    }
}
