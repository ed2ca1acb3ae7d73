//! The job store's data types: states, rows, outcomes, filters.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use docfleet_queue::TraceContext;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A job's state. Stored as lower-case text.
///
/// `Queued → Running → Succeeded | Queued (retry, release) | Dead`. `Failed` is reserved for a
/// failed attempt that waits for a retry outside the table; this store never writes it, and
/// `start` / `lease_next` treat a `Failed` row like a `Queued` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Succeeded and Dead rows never change again.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Dead)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

/// One job row. Times are unix milliseconds from the database's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: Uuid,
    pub tenant: String,
    pub source: String,
    /// The message's `JobOptions`, as JSON.
    pub options: serde_json::Value,
    pub batch_id: Option<Uuid>,
    pub submitted_at_ms: i64,
    pub state: JobState,
    /// Attempts started (`start`, `lease_next`), minus those given back by `release`.
    pub attempts: u32,
    pub max_attempts: u32,
    /// The worker running the job, or the one that finished it; `None` while queued.
    pub worker_id: Option<String>,
    pub lease_expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// Per-lane durations in milliseconds (set on success).
    pub timings: Option<BTreeMap<String, u64>>,
    pub pages: Option<u64>,
    pub chunks: Option<u64>,
    pub points: Option<u64>,
    /// Object-store keys of the artifacts written (set on success).
    pub artifacts: Option<Vec<String>>,
    /// The last failure's reason (kept while a retry is queued, cleared on success).
    pub error: Option<String>,
    /// The tenant profile version the job last ran with (`None`: no profile, or not run yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_version: Option<i64>,
    /// PII matches per type in the document (profiles with `pii` detect or redact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_counts: Option<BTreeMap<String, u64>>,
    /// The submitter's W3C trace context (empty when it had none).
    #[serde(default, skip_serializing_if = "TraceContext::is_empty")]
    pub trace: TraceContext,
    /// Creation order; `cursor()` makes it the paging cursor of `list`.
    pub seq: i64,
}

impl JobRecord {
    /// The cursor that continues a `list` after this row.
    pub fn cursor(&self) -> JobCursor {
        JobCursor(self.seq)
    }
}

/// What a successful job produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// Lane name (`extract`, `chunk`, `embed`, `index`, …) → milliseconds.
    pub timings: BTreeMap<String, u64>,
    pub pages: u64,
    pub chunks: u64,
    pub points: u64,
    pub artifacts: Vec<String>,
    /// The tenant profile version the job ran with.
    pub profile_version: Option<i64>,
    /// PII matches per type (`None` when the profile does not look for PII).
    pub pii_counts: Option<BTreeMap<String, u64>>,
}

/// The answer of `JobStore::start`.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// This worker now holds the job (`attempts` already counts this attempt).
    Started(Box<JobRecord>),
    /// Succeeded or Dead: a redelivered finished job is acked, never redone.
    AlreadyFinished(JobState),
    /// Another worker holds an unexpired lease: leave the message to it (or retry later).
    LeasedByOther {
        worker_id: String,
        lease_expires_at_ms: i64,
    },
    /// No row with this job id.
    NotFound,
}

/// The answer of `JobStore::lock_document`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentLock {
    /// The job holds the document now: it was free, its holder's lease had run out, or this
    /// job held it already (its lease is renewed, its worker becomes the holder).
    Taken,
    /// Another job holds it under a live lease.
    HeldByOther(LockHolder),
}

/// Who holds a document lock, and until when (unix ms, database clock) unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub job_id: Uuid,
    pub worker_id: String,
    pub lease_expires_at_ms: i64,
}

/// A position in `list`'s order (creation order), from `JobRecord::cursor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobCursor(pub i64);

/// What `list` returns: rows in creation order, after `after`, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<JobState>,
    pub tenant: Option<String>,
    pub batch_id: Option<Uuid>,
    pub after: Option<JobCursor>,
    pub limit: u32,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            state: None,
            tenant: None,
            batch_id: None,
            after: None,
            limit: 100,
        }
    }
}

/// Number of jobs in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub dead: u64,
}

/// A batch's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub counts: StateCounts,
    pub first_created_at_ms: i64,
}

impl StateCounts {
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Succeeded => self.succeeded,
            JobState::Failed => self.failed,
            JobState::Dead => self.dead,
        }
    }

    pub fn slot(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Queued => &mut self.queued,
            JobState::Running => &mut self.running,
            JobState::Succeeded => &mut self.succeeded,
            JobState::Failed => &mut self.failed,
            JobState::Dead => &mut self.dead,
        }
    }

    pub fn total(&self) -> u64 {
        JobState::ALL.into_iter().map(|s| self.get(s)).sum()
    }
}

/// Settings of a store connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Written into each new row; see `JobStore::fail` and `JobStore::lease_next`.
    pub max_attempts: u32,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_attempts: 5,
            max_connections: 8,
        }
    }
}
