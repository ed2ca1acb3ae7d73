//! `docfleet jobs` and `docfleet job <id>`: job state from the job store.

use anyhow::{Result, bail};
use docfleet_jobstore::{JobRecord, JobState, ListFilter};
use uuid::Uuid;

use crate::settings::{CommonOpts, StoreOpts};
use crate::wiring;

/// Rows in creation order (all pages), optionally one state, the tenant's only unless `all`.
pub async fn list(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    state: Option<JobState>,
    all_tenants: bool,
    limit: u32,
) -> Result<Vec<JobRecord>> {
    let store = wiring::open_job_store(common, store_opts).await?;
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

pub async fn show(common: &CommonOpts, store_opts: &StoreOpts, job_id: Uuid) -> Result<JobRecord> {
    let store = wiring::open_job_store(common, store_opts).await?;
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
