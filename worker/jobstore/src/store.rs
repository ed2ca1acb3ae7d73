//! The `JobStore` seam.

use std::time::Duration;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_queue::TraceContext;
use uuid::Uuid;

use crate::error::Result;
use crate::model::{
    BatchCounts, DocumentLock, JobOutcome, JobRecord, JobState, ListFilter, StartOutcome,
    StateCounts,
};

/// The job table: state of every job, and (for the "local" queue) the queue itself.
///
/// Guard rules, enforced by each adapter inside one statement or transaction:
/// - `extend_lease`, `succeed`, `fail` and `release` change a row only while it is `Running`
///   and owned by `worker_id` (an expired lease stays the owner's until another worker takes
///   the job, which changes the owner). A rejected call returns `false` / `None` and changes
///   nothing, so a late, stale worker never overwrites a newer outcome.
/// - `start` and `lease_next` take a row that is `Queued` (or `Failed`), or `Running` with an
///   expired lease (a crashed worker's job); `start` also re-takes a job its own worker holds.
/// - `Succeeded` and `Dead` rows never change again.
///
/// Document locks (one job per document at a time across the fleet, keyed by the pipeline's
/// `doc_id`) follow the same rules: `lock_document` takes a free or expired lock, or re-takes
/// the one its job holds, in one statement; `extend_document_lock` and `unlock_document` apply
/// only for the holder (job and worker), so a worker that lost the lock cannot free the new
/// holder's.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Creates the row (`Queued`, 0 attempts) unless one with this job id exists; returns
    /// whether it was created. Idempotent: an existing row is left as it is.
    async fn create(&self, msg: &JobMessage) -> Result<bool> {
        self.create_in_batch(msg, None, &TraceContext::default())
            .await
    }

    /// `create`, recording the batch (an `enqueue` call) the job belongs to and the submitter's
    /// trace context (which the job-table queue's deliveries carry).
    async fn create_in_batch(
        &self,
        msg: &JobMessage,
        batch_id: Option<Uuid>,
        trace: &TraceContext,
    ) -> Result<bool>;

    /// Takes the job for `worker_id` for `lease`: `Running`, attempts + 1. See `StartOutcome`
    /// for the refusals. `max_attempts` is not checked here (a broker counts its own
    /// deliveries); `fail` and `lease_next` apply it.
    async fn start(&self, job_id: Uuid, worker_id: &str, lease: Duration) -> Result<StartOutcome>;

    /// Moves the owner's lease to now + `lease`.
    async fn extend_lease(&self, job_id: Uuid, worker_id: &str, lease: Duration) -> Result<bool>;

    /// `Running` → `Succeeded` with its outcome; error cleared.
    async fn succeed(&self, job_id: Uuid, worker_id: &str, outcome: &JobOutcome) -> Result<bool>;

    /// Records a failed attempt. `terminal`, or attempts ≥ `max_attempts`: → `Dead`; otherwise
    /// → `Queued` (owner and lease cleared, the error kept) for a retry, which `lease_next` will
    /// not claim before `retry_after` has passed (brokers apply their own delay and ignore it).
    /// Returns the new state, `None` if the guard refused.
    async fn fail(
        &self,
        job_id: Uuid,
        worker_id: &str,
        error: &str,
        terminal: bool,
        retry_after: Duration,
    ) -> Result<Option<JobState>>;

    /// Shutdown: `Running` → `Queued` without counting the attempt (attempts − 1, since `start`
    /// counted it), owner and lease cleared; claimable again at once.
    async fn release(&self, job_id: Uuid, worker_id: &str) -> Result<bool> {
        self.defer(job_id, worker_id, Duration::ZERO).await
    }

    /// `release` for a job that has to wait (its document is locked by another job):
    /// `lease_next` does not claim it before `after` (brokers deliver it when they are told).
    async fn defer(&self, job_id: Uuid, worker_id: &str, after: Duration) -> Result<bool>;

    /// Redrive: a `Dead` job of the tenant back to `Queued` with its attempts reset (its
    /// message must then be published again). False if it is not a dead job of the tenant's.
    async fn revive(&self, tenant: &str, job_id: Uuid) -> Result<bool>;

    async fn get(&self, job_id: Uuid) -> Result<Option<JobRecord>>;

    /// `get`, but `None` for another tenant's job.
    async fn get_for_tenant(&self, tenant: &str, job_id: Uuid) -> Result<Option<JobRecord>>;

    /// Rows in creation order matching the filter.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>>;

    /// Jobs per state, for one tenant or all.
    async fn counts_by_state(&self, tenant: Option<&str>) -> Result<StateCounts>;

    /// The tenant's batch: jobs per state and when its first job was created (`None` for no
    /// such batch, or another tenant's).
    async fn batch_counts(&self, tenant: &str, batch_id: Uuid) -> Result<Option<BatchCounts>>;

    /// The job-table queue: atomically claims up to `max` jobs in creation (FIFO) order that are
    /// `Queued` (or `Failed`), or `Running` with an expired lease, for `worker_id`, as `start`
    /// does. First, in the same transaction, a `Running` job whose lease expired after
    /// `max_attempts` attempts is moved to `Dead` (it keeps killing its workers). Returns the
    /// claimed rows in FIFO order.
    async fn lease_next(
        &self,
        worker_id: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<JobRecord>>;

    /// Takes document `doc_id` for job `job_id` on `worker_id` until now + `lease`, unless
    /// another job holds it under a live lease (then says who, and until when).
    async fn lock_document(
        &self,
        doc_id: &str,
        job_id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<DocumentLock>;

    /// Moves the holder's lease to now + `lease`; false when this job and worker no longer hold
    /// the lock (it expired and another job took it).
    async fn extend_document_lock(
        &self,
        doc_id: &str,
        job_id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool>;

    /// Frees the document if this job and worker hold it; returns whether they did.
    async fn unlock_document(&self, doc_id: &str, job_id: Uuid, worker_id: &str) -> Result<bool>;

    /// Tenants and API keys, kept in the same database.
    fn tenants(&self) -> &dyn crate::tenants::TenantStore;

    /// The append-only audit trail, kept in the same database.
    fn audit(&self) -> &dyn crate::audit::AuditStore;

    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// Closes the pool; later calls fail.
    async fn close(&self);
}
