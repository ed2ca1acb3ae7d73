//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::settings::{
    ApiOpts, CommonOpts, KeyOpts, PipelineOpts, QueueOpts, StoreOpts, WorkerOpts,
};

#[derive(Parser, Debug)]
#[command(
    name = "docfleet",
    version,
    about = "Turns documents into searchable vectors."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonOpts,
    /// TOML file of options by flag name (`queue = "rabbitmq"`); flags and DOCFLEET_… variables
    /// take precedence over it.
    #[arg(long, env = "DOCFLEET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(
        long,
        env = "DOCFLEET_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Extract, chunk, embed and index files and folders (recursive) on this machine.
    Run {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        pipeline: PipelineOpts,
        /// Where the tenant's profile is read from (none: no profile applies, unless the data
        /// dir holds a job store).
        #[command(flatten)]
        store: StoreOpts,
        /// A tag stored with every chunk of each document, `key=value` (repeatable): a search
        /// filter and facet.
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Consume jobs from the queue and run them (until SIGTERM/SIGINT, which drains).
    Worker {
        #[command(flatten)]
        pipeline: PipelineOpts,
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        #[command(flatten)]
        worker: WorkerOpts,
    },
    /// Create one job per document and publish it to the queue.
    Enqueue {
        /// Files, folders (recursive), file:// URIs, s3://bucket/key objects and
        /// s3://bucket/prefix/ (every object under the prefix).
        #[arg(required = true)]
        sources: Vec<String>,
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        /// Per-job chunk size (tokens, special tokens included); default: the worker's.
        #[arg(long)]
        chunk_max_tokens: Option<usize>,
        /// Per-job chunk overlap (tokens); default: the worker's.
        #[arg(long)]
        chunk_overlap_tokens: Option<usize>,
        /// Notified (signed POST) when each job succeeds or is dead.
        #[arg(long)]
        callback_url: Option<String>,
        /// A tag stored with every chunk of each document, `key=value` (repeatable): a search
        /// filter and facet.
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// Print the batch and job ids as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create the queue and its dead-letter queue (SQS: with the redrive policy; RabbitMQ: the
    /// whole topology), idempotently. Workers do not create SQS queues themselves.
    Queues {
        #[command(subcommand)]
        which: QueuesCommand,
    },
    /// Run dead jobs again: each goes back to queued with its attempts reset and its message is
    /// published again (same job id, source and options). Default: every dead job of the tenant.
    Redrive {
        /// Only these jobs.
        job_ids: Vec<uuid::Uuid>,
        /// Every tenant's dead jobs (ignored with job ids).
        #[arg(long)]
        all_tenants: bool,
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
    },
    /// List the tenant's jobs in submission order.
    Jobs {
        /// Only jobs in this state: queued, running, succeeded, failed, dead.
        #[arg(long)]
        state: Option<docfleet_jobstore::JobState>,
        /// Every tenant's jobs.
        #[arg(long)]
        all_tenants: bool,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// One job's state, attempts, timings, counts, artifacts and error.
    Job {
        job_id: uuid::Uuid,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// Serve the job API (HTTP, JSON; /openapi.json) until SIGTERM/SIGINT.
    Api {
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        #[command(flatten)]
        api: ApiOpts,
    },
    /// Print the effective configuration (flags, then DOCFLEET_… variables, then defaults) as
    /// JSON, with passwords and secrets replaced by ***.
    Config {
        /// Instead: every DOCFLEET_… variable the binary reads, one per line (deployment
        /// manifests are checked against it).
        #[arg(long)]
        env_vars: bool,
        #[command(flatten)]
        pipeline: PipelineOpts,
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        #[command(flatten)]
        worker: WorkerOpts,
        #[command(flatten)]
        api: ApiOpts,
    },
    /// Tenants: create, list.
    Tenants {
        #[command(subcommand)]
        which: TenantsCommand,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// API keys of tenants: create (shown once), list, revoke.
    Keys {
        #[command(subcommand)]
        which: KeysCommand,
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        keys: KeyOpts,
    },
    /// The audit trail, newest first: state-changing API calls, searches, and the CLI's tenant
    /// and key changes (key id `cli`). The tenant's (`--tenant`) unless `--all-tenants`.
    Audit {
        /// Every tenant's records.
        #[arg(long)]
        all_tenants: bool,
        /// Only this action: job.submit, batch.submit, document.delete, search, key.create,
        /// key.revoke, profile.set, tenant.create.
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only records older than this seq (the last seq of the previous page).
        #[arg(long)]
        before: Option<i64>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// Search the tenant's indexed chunks.
    Search {
        query: String,
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        #[command(flatten)]
        search: SearchOpts,
        /// Where the tenant's profile (its model) is read from.
        #[command(flatten)]
        store: StoreOpts,
        #[arg(long)]
        json: bool,
    },
    /// Retrieval quality on a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/test.tsv):
    /// indexes the corpus, runs every test query in each mode, prints nDCG@10, recall@10/100,
    /// MRR@10 and queries/s per mode.
    Eval {
        /// The dataset folder.
        dir: PathBuf,
        #[command(flatten)]
        pipeline: PipelineOpts,
        /// Modes to evaluate, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "dense,keyword,hybrid")]
        modes: Vec<SearchModeOpt>,
        /// Evaluate only the first N test queries (0: all).
        #[arg(long, default_value_t = 0)]
        max_queries: usize,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Retention: removes the vectors and artifacts of documents last indexed longer ago than
    /// their tenant profile's `retention.days` (tenants without it keep everything).
    Gc {
        /// Only report what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// Documents, chunks and points per tenant.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Internal: the extractor child process that `run` starts. Serves extraction requests on
    /// stdin/stdout (the protocol of docfleet_pipeline::extract::wire) until stdin closes.
    #[command(hide = true)]
    ExtractWorker {
        /// Largest document frame accepted (the parent passes its max_file_bytes).
        #[arg(long, default_value_t = 100 * 1024 * 1024)]
        max_file_bytes: u64,
    },
}

fn parse_tag(tag: &str) -> Result<(String, String), String> {
    docfleet_core::job::parse_tag(tag).map_err(|e| e.to_string())
}

/// How `search` ranks and what it looks at.
#[derive(clap::Args, Debug, Clone)]
pub struct SearchOpts {
    /// `hybrid` (keyword and vector results fused by reciprocal rank), `dense` or `keyword`.
    #[arg(long, value_enum, default_value_t = SearchModeOpt::Hybrid)]
    pub mode: SearchModeOpt,
    /// Weight of the vector ranking in hybrid fusion.
    #[arg(long, default_value_t = 1.0)]
    pub dense_weight: f32,
    /// Weight of the keyword ranking in hybrid fusion.
    #[arg(long, default_value_t = 1.0)]
    pub keyword_weight: f32,
    /// Only this document (its doc_id).
    #[arg(long)]
    pub doc: Option<String>,
    /// Only sources under this folder (`s3://bucket/reports/`, `file:///data/in/`).
    #[arg(long)]
    pub source_prefix: Option<String>,
    /// Only these media types (repeatable), e.g. `application/pdf`.
    #[arg(long = "media-type")]
    pub media_types: Vec<String>,
    /// Only chunks on these pages: `3` or `2-5`.
    #[arg(long)]
    pub pages: Option<String>,
    /// Only documents with this tag, `key=value` (repeatable: all must match).
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Also print facet counts (media types, tags) of the documents in scope.
    #[arg(long)]
    pub facets: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchModeOpt {
    Dense,
    Keyword,
    Hybrid,
}

impl SearchModeOpt {
    pub fn mode(self) -> docfleet_pipeline::index::SearchMode {
        use docfleet_pipeline::index::SearchMode;
        match self {
            SearchModeOpt::Dense => SearchMode::Dense,
            SearchModeOpt::Keyword => SearchMode::Keyword,
            SearchModeOpt::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum QueuesCommand {
    /// Create them.
    Init {
        #[command(flatten)]
        queue: QueueOpts,
        /// The SQS visibility timeout set on the queue (the worker sets its own per receive).
        #[arg(long, env = "DOCFLEET_LEASE_SECS", default_value_t = 60)]
        lease_secs: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create a tenant (A-Z a-z 0-9 - _, at most 64 characters); an existing one is left as is.
    Create { name: String },
    /// Every tenant with its number of active keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A tenant's profile: its pipeline settings (chunking, model, OCR, PII, limits, retention,
    /// webhook). See fixtures/profiles/example.toml.
    Profile {
        #[command(subcommand)]
        which: ProfileCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Validate a TOML profile and store it as the tenant's next version (unknown keys are
    /// refused, named). Workers apply it within DOCFLEET_PROFILE_TTL_SECS.
    Set { tenant: String, file: PathBuf },
    /// The tenant's current profile (the webhook secret hidden).
    Show {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a key for a tenant; the key is printed once and only its hash is stored.
    Create {
        tenant: String,
        /// What the key is for (shown in listings).
        #[arg(long, default_value = "")]
        label: String,
        /// An admin key: also reads and changes the tenant's profile, keys and audit trail.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Keys (ids, tenants, labels, dates; never secrets).
    List {
        /// Only this tenant's keys.
        #[arg(long = "of")]
        of_tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (the part after `dfk_`, before the second `_`).
    Revoke { key_id: String },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Embedding throughput (texts/s, tokens/s) per batch size on synthetic texts.
    Embed {
        #[arg(long, default_value_t = 512)]
        texts: usize,
        /// Words per text (about 1.2 tokens each; ±25%).
        #[arg(long, default_value_t = 160)]
        words: usize,
        #[arg(long, value_delimiter = ',', default_value = "8,32,128")]
        batch_sizes: Vec<usize>,
        /// Precisions to run, one after the other (f32, bf16, int8, auto). Default: f32, then
        /// every lower precision this CPU has, each with its speed-up over f32.
        #[arg(long, value_delimiter = ',', value_enum)]
        precisions: Vec<crate::settings::EmbedPrecisionOpt>,
        /// Also write the texts as a JSON list, for a peer benchmark on the very same texts
        /// (benches/ort_peer.py; ./benches/embed-vs-ort runs both).
        #[arg(long)]
        texts_json: Option<PathBuf>,
    },
    /// The whole pipeline on a folder, into a scratch data dir: docs/s, pages/s, chunks/s, RSS.
    Run {
        dir: PathBuf,
        #[command(flatten)]
        pipeline: PipelineOpts,
        /// Keep the scratch data dir and print where it is.
        #[arg(long)]
        keep_data: bool,
    },
}
