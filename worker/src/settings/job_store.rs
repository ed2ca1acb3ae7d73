//! Where job state lives: SQLite (default `<data_dir>/jobs.sqlite`) or PostgreSQL.

use clap::Args;
use serde::Serialize;

use super::common::CommonOpts;

/// Where job state lives.
#[derive(Args, Debug, Clone, Serialize)]
pub struct StoreOpts {
    /// Job store: postgres://…, sqlite:… or a file path. Default: <data_dir>/jobs.sqlite.
    #[arg(long, env = "DOCFLEET_JOB_STORE_URL")]
    #[serde(serialize_with = "super::secrets::optional_url_without_password")]
    pub job_store_url: Option<String>,
    /// Attempts a job gets before it is dead-lettered (written into each job row at enqueue).
    #[arg(long, env = "DOCFLEET_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
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
