//! `docfleet redrive`: dead jobs back to queued, their messages published again.

use anyhow::{Context, Result, bail};
use docfleet_core::job::{JobMessage, JobOptions};
use docfleet_jobstore::{JobRecord, JobState};
use uuid::Uuid;

use crate::commands::jobs;
use crate::settings::{CommonOpts, QueueOpts, StoreOpts};
use crate::wiring;

/// `docfleet redrive`: dead jobs back to queued, their messages published again. Returns how
/// many. A job whose row is revived but whose publish fails stays queued (the local queue picks
/// it up by itself; on a broker, redrive it again: `submit` republishes a queued row).
pub async fn redrive(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    queue: &QueueOpts,
    job_ids: &[Uuid],
    all_tenants: bool,
) -> Result<usize> {
    let dead: Vec<JobRecord> = if job_ids.is_empty() {
        jobs::list(
            common,
            store_opts,
            Some(JobState::Dead),
            all_tenants,
            u32::MAX,
        )
        .await?
    } else {
        let mut rows = Vec::new();
        for id in job_ids {
            let row = jobs::show(common, store_opts, *id).await?;
            if row.state != JobState::Dead {
                bail!("job {id} is {}, not dead", row.state.as_str());
            }
            rows.push(row);
        }
        rows
    };
    let store = wiring::open_job_store(common, store_opts).await?;
    let producer = wiring::open_producer(queue, common.storage.aws_region.as_deref()).await?;
    let mut n = 0;
    for row in &dead {
        let options: JobOptions = serde_json::from_value(row.options.clone())
            .with_context(|| format!("job {}: its stored options", row.job_id))?;
        let mut msg = JobMessage::new(&row.tenant, &row.source, options)?;
        msg.job_id = row.job_id;
        if !store.revive(&row.tenant, row.job_id).await? {
            continue; // redriven meanwhile
        }
        if let Some(p) = &producer {
            // The job's own trace: the redriven attempt joins it.
            p.enqueue_traced(&msg, &row.trace).await.with_context(|| {
                format!("publishing job {} (its row is queued again)", msg.job_id)
            })?;
        }
        println!("{}  {}", row.job_id, row.source);
        n += 1;
    }
    store.close().await;
    Ok(n)
}
