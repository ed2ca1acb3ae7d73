//! `docfleet enqueue <paths|uri>...`: one job per document, a job row each, published to the
//! queue (for the local queue the row is the message).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use docfleet_core::job::{JobMessage, JobOptions};
use docfleet_core::source::valid_bucket;
use docfleet_jobstore::{JobState, JobStore};
use docfleet_pipeline::store::s3::S3Client;
use docfleet_queue::JobProducer;
use serde::Serialize;
use tracing::Instrument;
use uuid::Uuid;

use crate::local_files::discover;
use crate::settings::{CommonOpts, QueueOpts, StoreOpts};
use crate::wiring;

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

/// Records the job and publishes it: row first, then the message, so a worker that gets the
/// message always finds the row. If publishing fails the row stays queued and the error names
/// the job; submitting the same message again (same job id) publishes it again while the job is
/// still queued (a duplicate message is harmless), and not once it has started. Returns the
/// job's state: `Queued` for a new row, the existing row's otherwise. The current span's trace
/// context goes with the row and the message: the worker's spans continue this trace.
pub async fn submit(
    store: &dyn JobStore,
    producer: Option<&dyn JobProducer>,
    msg: &JobMessage,
    batch_id: Option<Uuid>,
) -> Result<JobState> {
    let trace = crate::telemetry::current_context();
    let created = store
        .create_in_batch(msg, batch_id, &trace)
        .await
        .with_context(|| format!("creating the job row for {}", msg.source))?;
    if !created {
        let Some(row) = store.get(msg.job_id).await? else {
            return Ok(JobState::Queued);
        };
        if row.state != JobState::Queued {
            return Ok(row.state);
        }
    }
    if let Some(producer) = producer {
        producer
            .enqueue_traced(msg, &trace)
            .await
            .with_context(|| {
                format!(
                    "publishing job {} for {} (its row stays queued; submit it again)",
                    msg.job_id, msg.source
                )
            })?;
    }
    Ok(JobState::Queued)
}

/// Source URIs for the arguments: files and folders (recursive), `file://` URIs, and
/// `s3://bucket/key` objects or `s3://bucket/prefix/` (every object under the prefix).
pub async fn sources(common: &CommonOpts, args: &[String]) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    let mut uris = Vec::new();
    let mut s3 = None;
    for arg in args {
        if let Some(path) = arg.strip_prefix("file://") {
            paths.push(PathBuf::from(path));
        } else if let Some(rest) = arg.strip_prefix("s3://") {
            let s3 = match &s3 {
                Some(reader) => reader,
                None => s3.insert(crate::wiring::source_reader(common)),
            };
            uris.extend(s3_sources(s3.s3().await, rest).await?);
        } else if arg.contains("://") {
            bail!("{arg}: enqueue files, folders, file:// or s3:// URIs");
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    if !paths.is_empty() {
        uris.extend(discover(&paths)?.iter().map(|f| f.uri()));
    }
    uris.dedup();
    Ok(uris)
}

/// `bucket/key` → that object; `bucket/prefix/` (or a key that is not an object) → every
/// object under the prefix. Nothing found is an error, before any job is created.
async fn s3_sources(client: &S3Client, rest: &str) -> Result<Vec<String>> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_bucket(bucket) {
        bail!("s3://{rest}: invalid bucket name {bucket:?}");
    }
    if !key.is_empty() && !key.ends_with('/') && client.head(bucket, key).await?.is_some() {
        return Ok(vec![format!("s3://{bucket}/{key}")]);
    }
    let prefix = if key.is_empty() || key.ends_with('/') {
        key.to_owned()
    } else {
        format!("{key}/")
    };
    let objects = client
        .list(bucket, &prefix)
        .await
        .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
    if objects.is_empty() {
        bail!("s3://{rest}: no such object, and no objects under s3://{bucket}/{prefix}");
    }
    Ok(objects
        .into_iter()
        .map(|(key, _)| format!("s3://{bucket}/{key}"))
        .collect())
}

pub async fn enqueue(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    queue_opts: &QueueOpts,
    args: &[String],
    options: JobOptions,
) -> Result<Enqueued> {
    let tenant = common.tenant()?;
    let uris = sources(common, args).await?;
    let store = wiring::open_job_store(common, store_opts).await?;
    let producer = wiring::open_producer(queue_opts, common.storage.aws_region.as_deref()).await?;
    let batch_id = Uuid::new_v4();
    // The batch's trace: each job's spans join it.
    let span = tracing::info_span!("enqueue", %batch_id, tenant = %tenant, jobs = uris.len());
    let submitted = async {
        let mut jobs = Vec::with_capacity(uris.len());
        for uri in uris {
            let msg = JobMessage::new(tenant, &uri, options.clone())?;
            submit(store.as_ref(), producer.as_deref(), &msg, Some(batch_id)).await?;
            jobs.push(EnqueuedJob {
                job_id: msg.job_id,
                source: uri,
            });
        }
        anyhow::Ok(jobs)
    };
    // Instrumented, not entered: a guard held across the awaits would mislabel other tasks.
    let jobs = submitted.instrument(span).await;
    store.close().await;
    let jobs = jobs?;
    Ok(Enqueued { batch_id, jobs })
}
