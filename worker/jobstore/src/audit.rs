//! The audit trail, stored beside the jobs (same database, same adapters): who (tenant, key)
//! did what (action, target) when, in which request, and how it ended.
//!
//! Append-only by construction: the trait has `append` and `list` and nothing else, and the
//! table's triggers (migration 0007) refuse `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`)
//! whoever sends them.

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;

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

/// The same SQL on both drivers (`$n` parameters, times passed in).
macro_rules! impl_audit_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::audit::AuditStore for $store {
            async fn append(
                &self,
                record: &$crate::audit::NewAuditRecord,
            ) -> $crate::error::Result<i64> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "INSERT INTO audit_log \
                     (at_ms, tenant, key_id, action, target, request_id, outcome, status, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
                )
                .bind(record.at_ms)
                .bind(&record.tenant)
                .bind(&record.key_id)
                .bind(&record.action)
                .bind(&record.target)
                .bind(&record.request_id)
                .bind(record.outcome.as_str())
                .bind(record.status.map(i32::from))
                .bind(&record.detail)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("seq")?)
            }

            async fn list(
                &self,
                filter: &$crate::audit::AuditFilter,
            ) -> $crate::error::Result<Vec<$crate::audit::AuditRecord>> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT seq, at_ms, tenant, key_id, action, target, request_id, outcome, \
                     status, detail FROM audit_log \
                     WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR seq < $3) AND ($4 IS NULL OR seq > $4) \
                     ORDER BY seq DESC LIMIT $5",
                )
                .bind(filter.tenant.as_deref())
                .bind(filter.action.as_deref())
                .bind(filter.before_seq)
                .bind(filter.after_seq)
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        let seq: i64 = r.try_get("seq")?;
                        let corrupt = |reason: String| $crate::error::Error::CorruptRow {
                            job_id: format!("audit record {seq}"),
                            reason,
                        };
                        let outcome: String = r.try_get("outcome")?;
                        let status: Option<i32> = r.try_get("status")?;
                        let record = $crate::audit::NewAuditRecord {
                            at_ms: r.try_get("at_ms")?,
                            tenant: r.try_get("tenant")?,
                            key_id: r.try_get("key_id")?,
                            action: r.try_get("action")?,
                            target: r.try_get("target")?,
                            request_id: r.try_get("request_id")?,
                            outcome: $crate::audit::AuditOutcome::parse(&outcome)
                                .ok_or_else(|| corrupt(format!("unknown outcome {outcome:?}")))?,
                            status: status
                                .map(u16::try_from)
                                .transpose()
                                .map_err(|_| corrupt(format!("status {status:?}")))?,
                            detail: r.try_get("detail")?,
                        };
                        Ok($crate::audit::AuditRecord { seq, record })
                    })
                    .collect()
            }
        }
    };
}
