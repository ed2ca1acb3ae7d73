//! `docfleet audit`: the audit trail from the job store, newest first; and the records the
//! CLI's own changes (tenants, keys) append, with key id `cli`.

use anyhow::Result;
use docfleet_jobstore::{AuditFilter, AuditOutcome, AuditRecord, JobStore, NewAuditRecord, now_ms};

use crate::settings::{CommonOpts, StoreOpts};
use crate::wiring;

/// The key id of records the command line appends.
pub const CLI_KEY_ID: &str = "cli";
/// Records per store query.
const PAGE: u32 = 1000;

/// Appends the record of a change made on the command line (a fresh request id, no status).
pub async fn record_cli(
    store: &dyn JobStore,
    tenant: &str,
    action: &str,
    target: Option<&str>,
    outcome: AuditOutcome,
) -> Result<()> {
    let record = NewAuditRecord {
        at_ms: now_ms(),
        tenant: tenant.to_owned(),
        key_id: CLI_KEY_ID.to_owned(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        request_id: uuid::Uuid::new_v4().to_string(),
        outcome,
        status: None,
        detail: None,
    };
    store
        .audit()
        .append(&record)
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("writing the audit record ({action} of {tenant}): {e}"))
}

/// What `docfleet audit` lists.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// `None`: every tenant's.
    pub tenant: Option<String>,
    pub action: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// Up to `limit` records, newest first.
pub async fn list(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>> {
    let store = wiring::open_job_store(common, store_opts).await?;
    let mut out: Vec<AuditRecord> = Vec::new();
    let mut before = query.before;
    while out.len() < query.limit as usize {
        let page = store
            .audit()
            .list(&AuditFilter {
                tenant: query.tenant.clone(),
                action: query.action.clone(),
                before_seq: before,
                after_seq: None,
                limit: (query.limit - out.len() as u32).min(PAGE),
            })
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        out.extend(page);
    }
    store.close().await;
    Ok(out)
}

/// `at_ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn utc(at_ms: i64) -> String {
    let (days, ms) = (at_ms.div_euclid(86_400_000), at_ms.rem_euclid(86_400_000));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

pub fn print_table(records: &[AuditRecord]) {
    println!(
        "{:>8}  {:<24}  {:<16}  {:<12}  {:<15}  {:<7}  {:>6}  {:<36}  TARGET",
        "SEQ", "TIME (UTC)", "TENANT", "KEY", "ACTION", "OUTCOME", "STATUS", "REQUEST ID"
    );
    for r in records {
        println!(
            "{:>8}  {:<24}  {:<16}  {:<12}  {:<15}  {:<7}  {:>6}  {:<36}  {}",
            r.seq,
            utc(r.at_ms),
            r.tenant,
            r.key_id,
            r.action,
            r.outcome.as_str(),
            r.status.map_or("-".into(), |s| s.to_string()),
            r.request_id,
            r.target.as_deref().unwrap_or("-"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
    }
}
