//! How `docfleet worker` runs jobs: its name, leases, drain, retries, ops endpoints, callbacks.

use clap::Args;
use serde::Serialize;

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
    #[serde(serialize_with = "super::secrets::secret")]
    pub webhook_secret: Option<String>,
    /// Attempts per job callback (connection errors, timeouts, 408, 429, 5xx are retried).
    #[arg(long, env = "DOCFLEET_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,
    /// Exit (0) once no job is queued or running: for batch runs.
    #[arg(long, env = "DOCFLEET_EXIT_WHEN_IDLE")]
    pub exit_when_idle: bool,
}
