//! The job store: PostgreSQL or SQLite, from `--job-store-url` (default `<data_dir>/jobs.sqlite`).

use std::sync::Arc;

use anyhow::{Context, Result};
use docfleet_jobstore::{JobStore, StoreOptions};

use crate::settings::{CommonOpts, StoreOpts, redact};

/// The job store of the options; the default SQLite file's folder is made when missing.
pub async fn open_job_store(common: &CommonOpts, opts: &StoreOpts) -> Result<Arc<dyn JobStore>> {
    let url = opts.url(common);
    if opts.job_store_url.is_none() {
        std::fs::create_dir_all(&common.data_dir)
            .with_context(|| format!("creating {}", common.data_dir.display()))?;
    }
    let options = StoreOptions {
        max_attempts: opts.max_attempts,
        ..StoreOptions::default()
    };
    docfleet_jobstore::connect_with(&url, &options)
        .await
        .with_context(|| format!("opening the job store {}", redact(&url)))
}
