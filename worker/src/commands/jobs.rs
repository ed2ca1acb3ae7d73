//! `docfleet jobs` and `docfleet job <id>`: job state from the job store.

use anyhow::{Context, Result, bail};
use docfleet_jobstore::{JobRecord, JobState, ListFilter};
use docfleet_pipeline::job::{JobMessage, JobOptions};
use uuid::Uuid;

use crate::settings::{CommonOpts, QueueOpts, StoreOpts};
use crate::wiring::queue as connect;

/// Rows in creation order (all pages), optionally one state, the tenant's only unless `all`.
pub async fn list(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    state: Option<JobState>,
    all_tenants: bool,
    limit: u32,
) -> Result<Vec<JobRecord>> {
    let store = connect::job_store(common, store_opts).await?;
    let tenant = (!all_tenants)
        .then(|| common.tenant().map(str::to_owned))
        .transpose()?;
    let mut out = Vec::new();
    let mut after = None;
    while out.len() < limit as usize {
        let page = store
            .list(&ListFilter {
                state,
                tenant: tenant.clone(),
                after,
                limit: (limit - out.len() as u32).min(500),
                ..ListFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        out.extend(page);
    }
    store.close().await;
    Ok(out)
}

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
        list(
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
            let row = show(common, store_opts, *id).await?;
            if row.state != JobState::Dead {
                bail!("job {id} is {}, not dead", row.state.as_str());
            }
            rows.push(row);
        }
        rows
    };
    let store = connect::job_store(common, store_opts).await?;
    let producer = connect::job_producer(queue, common.storage.aws_region.as_deref()).await?;
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

pub async fn show(common: &CommonOpts, store_opts: &StoreOpts, job_id: Uuid) -> Result<JobRecord> {
    let store = connect::job_store(common, store_opts).await?;
    let job = store.get_for_tenant(common.tenant()?, job_id).await?;
    store.close().await;
    match job {
        Some(job) => Ok(job),
        None => bail!("no job {job_id} for tenant {}", common.tenant),
    }
}

pub fn print_table(jobs: &[JobRecord]) {
    println!(
        "{:<36}  {:<9}  {:>8}  {:>6}  {:>6}  SOURCE / ERROR",
        "JOB", "STATE", "ATTEMPTS", "PAGES", "CHUNKS"
    );
    for j in jobs {
        let detail = match (&j.state, &j.error) {
            (JobState::Dead | JobState::Queued, Some(e)) => format!("{}  [{e}]", j.source),
            _ => j.source.clone(),
        };
        println!(
            "{:<36}  {:<9}  {:>8}  {:>6}  {:>6}  {detail}",
            j.job_id,
            j.state.as_str(),
            format!("{}/{}", j.attempts, j.max_attempts),
            j.pages.map_or("-".into(), |n| n.to_string()),
            j.chunks.map_or("-".into(), |n| n.to_string()),
        );
    }
}
