//! `docfleet enqueue <paths|uri>...`: one job per document, a job row each, published to the
//! queue (for the local queue the row is the message).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use docfleet_pipeline::job::{JobMessage, JobOptions};
use serde::Serialize;
use uuid::Uuid;

use crate::connect;
use crate::settings::{CommonOpts, QueueOpts, StoreOpts};
use crate::sources::discover;

#[derive(Debug, Serialize)]
pub struct Enqueued {
    pub batch_id: Uuid,
    pub jobs: Vec<EnqueuedJob>,
}

#[derive(Debug, Serialize)]
pub struct EnqueuedJob {
    pub job_id: Uuid,
    pub source: String,
}

/// `file:///abs/path` URIs for the arguments: files and folders (recursive) or `file://` URIs.
fn sources(args: &[String]) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for arg in args {
        if let Some(path) = arg.strip_prefix("file://") {
            paths.push(PathBuf::from(path));
        } else if arg.contains("://") {
            bail!("{arg}: only files, folders and file:// URIs can be enqueued in this build");
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    Ok(discover(&paths)?.iter().map(|f| f.uri()).collect())
}

pub async fn enqueue(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    queue_opts: &QueueOpts,
    args: &[String],
    options: JobOptions,
) -> Result<Enqueued> {
    let tenant = common.tenant()?;
    let uris = sources(args)?;
    let store = connect::job_store(common, store_opts).await?;
    let producer = connect::job_producer(queue_opts).await?;
    let batch_id = Uuid::new_v4();
    let mut jobs = Vec::with_capacity(uris.len());
    for uri in uris {
        let msg = JobMessage::new(tenant, &uri, options.clone())?;
        // Row first, then the message: a worker that gets the message always finds the row. If
        // publishing fails the row stays queued and this command fails naming it.
        store
            .create_in_batch(&msg, Some(batch_id))
            .await
            .with_context(|| format!("creating the job row for {uri}"))?;
        if let Some(producer) = &producer {
            producer.enqueue(&msg).await.with_context(|| {
                format!(
                    "publishing job {} for {uri} (its row stays queued; enqueue it again)",
                    msg.job_id
                )
            })?;
        }
        jobs.push(EnqueuedJob {
            job_id: msg.job_id,
            source: uri,
        });
    }
    store.close().await;
    Ok(Enqueued { batch_id, jobs })
}
