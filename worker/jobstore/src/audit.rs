//! The audit trail, stored beside the jobs (same database, same adapters): who (tenant, key)
//! did what (action, target) when, in which request, and how it ended.
//!
//! Append-only by construction: the trait has `append` and `list` and nothing else, and the
//! table's triggers (migration 0007) refuse `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`)
//! whoever sends them.

use async_trait::async_trait;
use serde::Serialize;

use crate::dialect::{Columns, Dialect, Params};
use crate::error::{Error, Result};
use crate::sql_store::SqlJobStore;

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Done (2xx).
    Ok,
    /// Refused: no valid key, or not allowed (401, 403).
    Denied,
    /// Anything else (bad input, not found, a dependency down).
    Error,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(AuditOutcome::Ok),
            "denied" => Some(AuditOutcome::Denied),
            "error" => Some(AuditOutcome::Error),
            _ => None,
        }
    }

    /// The outcome of an HTTP answer with this status.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => AuditOutcome::Ok,
            401 | 403 => AuditOutcome::Denied,
            _ => AuditOutcome::Error,
        }
    }
}

/// A record to append (the store gives it its `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAuditRecord {
    pub at_ms: i64,
    pub tenant: String,
    /// The API key's public id, or `cli` for the command line.
    pub key_id: String,
    /// `job.submit`, `batch.submit`, `document.delete`, `search`, `key.create`, `key.revoke`,
    /// `profile.set`, `tenant.create`.
    pub action: String,
    /// What it acted on (a job, batch, document or key id, a profile version), when known.
    pub target: Option<String>,
    pub request_id: String,
    pub outcome: AuditOutcome,
    /// The HTTP status, for API calls.
    pub status: Option<u16>,
    /// A little more (a search's mode and top_k); never request bodies or secrets.
    pub detail: Option<String>,
}

/// A stored record: what was appended, and its `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Increasing in append order; the paging cursor.
    pub seq: i64,
    #[serde(flatten)]
    pub record: NewAuditRecord,
}

impl std::ops::Deref for AuditRecord {
    type Target = NewAuditRecord;

    fn deref(&self) -> &NewAuditRecord {
        &self.record
    }
}

/// Which records `list` returns: newest (highest `seq`) first, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// One tenant's records (`None`: every tenant's, for the operator's CLI).
    pub tenant: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only records older than this seq: pass the last seq of a page to get the next one.
    pub before_seq: Option<i64>,
    /// Only records newer than this seq (with `before_seq`: a window).
    pub after_seq: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends the record; returns its seq.
    async fn append(&self, record: &NewAuditRecord) -> Result<i64>;

    /// The records matching the filter, newest first.
    async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;
}

fn decode_audit_record<D: Dialect>(row: &D::Row) -> Result<AuditRecord> {
    let r = Columns::<D>(row);
    let seq: i64 = r.get("seq")?;
    let corrupt = |reason: String| Error::CorruptRow {
        job_id: format!("audit record {seq}"),
        reason,
    };
    let outcome: String = r.get("outcome")?;
    let status: Option<i32> = r.get("status")?;
    let record = NewAuditRecord {
        at_ms: r.get("at_ms")?,
        tenant: r.get("tenant")?,
        key_id: r.get("key_id")?,
        action: r.get("action")?,
        target: r.get("target")?,
        request_id: r.get("request_id")?,
        outcome: AuditOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("unknown outcome {outcome:?}")))?,
        status: status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| corrupt(format!("status {status:?}")))?,
        detail: r.get("detail")?,
    };
    Ok(AuditRecord { seq, record })
}

/// The same SQL on both databases (`$n` parameters, times passed in).
#[async_trait]
impl<D: Dialect> AuditStore for SqlJobStore<D> {
    async fn append(&self, record: &NewAuditRecord) -> Result<i64> {
        let row = self
            .fetch_one(
                sqlx::query(
                    "INSERT INTO audit_log \
                     (at_ms, tenant, key_id, action, target, request_id, outcome, status, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
                )
                .param(record.at_ms)
                .param(record.tenant.as_str())
                .param(record.key_id.as_str())
                .param(record.action.as_str())
                .param(record.target.as_deref())
                .param(record.request_id.as_str())
                .param(record.outcome.as_str())
                .param(record.status.map(i32::from))
                .param(record.detail.as_deref()),
            )
            .await?;
        Ok(Columns::<D>(&row).get("seq")?)
    }

    async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT seq, at_ms, tenant, key_id, action, target, request_id, outcome, \
                     status, detail FROM audit_log \
                     WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR seq < $3) AND ($4 IS NULL OR seq > $4) \
                     ORDER BY seq DESC LIMIT $5",
                )
                .param(filter.tenant.as_deref())
                .param(filter.action.as_deref())
                .param(filter.before_seq)
                .param(filter.after_seq)
                .param(i64::from(filter.limit)),
            )
            .await?;
        rows.iter().map(decode_audit_record::<D>).collect()
    }
}
