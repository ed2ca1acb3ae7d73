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
