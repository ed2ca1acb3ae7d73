//! A job row, read and written: the decoding of `sql::columns!()` into a `JobRecord` (a value
//! out of range is a corrupt row), and the conversions of the values the store binds.

use std::time::Duration;

use sqlx::types::Json;
use uuid::Uuid;

use crate::dialect::{Columns, Dialect};
use crate::error::{Error, Result};
use crate::model::{JobRecord, JobState, StoreOptions};

/// Leases longer than this are cut to it (keeps `now + lease` far from overflow).
const MAX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);

pub(crate) fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The `max_attempts` written into each new row.
pub(crate) fn max_attempts(options: &StoreOptions) -> i32 {
    i32::try_from(options.max_attempts.max(1)).unwrap_or(i32::MAX)
}

pub(crate) fn parse_state(job_id: Uuid, text: &str) -> Result<JobState> {
    text.parse().map_err(|reason| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason,
    })
}

/// A non-negative integer column as `u64`; a negative one is a corrupt row.
fn unsigned(job_id: Uuid, column: &str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason: format!("negative {column}: {n}"),
    })
}

fn count(job_id: Uuid, column: &str, n: Option<i64>) -> Result<Option<u64>> {
    n.map(|n| unsigned(job_id, column, n)).transpose()
}

fn small(job_id: Uuid, column: &str, n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason: format!("negative {column}: {n}"),
    })
}

/// Decodes a row of `columns!()` into a `JobRecord`.
pub(crate) fn decode_record<D: Dialect>(row: &D::Row) -> Result<JobRecord> {
    let row = Columns::<D>(row);
    let job_id: Uuid = row.get("job_id")?;
    let state: String = row.get("state")?;
    Ok(JobRecord {
        job_id,
        tenant: row.get("tenant")?,
        source: row.get("source")?,
        options: row.get::<Json<serde_json::Value>>("options")?.0,
        batch_id: row.get("batch_id")?,
        submitted_at_ms: row.get("submitted_at_ms")?,
        state: parse_state(job_id, &state)?,
        attempts: small(job_id, "attempts", row.get("attempts")?)?,
        max_attempts: small(job_id, "max_attempts", row.get("max_attempts")?)?,
        worker_id: row.get("worker_id")?,
        lease_expires_at_ms: row.get("lease_expires_at_ms")?,
        created_at_ms: row.get("created_at_ms")?,
        updated_at_ms: row.get("updated_at_ms")?,
        started_at_ms: row.get("started_at_ms")?,
        finished_at_ms: row.get("finished_at_ms")?,
        timings: row.get::<Option<Json<_>>>("timings")?.map(|j| j.0),
        pages: count(job_id, "pages", row.get("pages")?)?,
        chunks: count(job_id, "chunks", row.get("chunks")?)?,
        points: count(job_id, "points", row.get("points")?)?,
        artifacts: row.get::<Option<Json<_>>>("artifacts")?.map(|j| j.0),
        error: row.get("error")?,
        profile_version: row.get("profile_version")?,
        pii_counts: row.get::<Option<Json<_>>>("pii_counts")?.map(|j| j.0),
        trace: docfleet_queue::TraceContext::from_values(
            row.get("traceparent")?,
            row.get("tracestate")?,
        ),
        seq: row.get("seq")?,
    })
}
