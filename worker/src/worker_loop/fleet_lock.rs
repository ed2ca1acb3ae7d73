//! One job per document at a time across the fleet. doc_locks.rs keeps a worker's own jobs of a
//! document in line; this lock is the document's row in the job store
//! (`JobStore::lock_document`), so that two workers sharing an index never write two versions
//! of one document at once (each would delete the other's points, `delete_doc_except`). A job
//! takes it after its worker's own lock and before it reads the source, renews it with the
//! job's lease, and releases it before its verdict, whatever the verdict.

use std::time::Duration;

use docfleet_jobstore::{DocumentLock, JobStore, LockHolder};
use tracing::{info, warn};
use uuid::Uuid;

use super::retry::durably;

/// How long a job whose document is locked waits before its next try, give or take
/// `DEFER_JITTER` (so that jobs deferred together do not come back together).
const DEFER_BASE: Duration = Duration::from_millis(1500);
const DEFER_JITTER: Duration = Duration::from_secs(1);
/// Waiting past the holder's lease by this much lets a crashed holder's lock expire first.
const PAST_HOLDER_LEASE: Duration = Duration::from_secs(1);

/// The document lock, held by this job on this worker.
pub struct FleetLock<'a> {
    store: &'a dyn JobStore,
    doc_id: String,
    job_id: Uuid,
    worker_id: &'a str,
    lease: Duration,
    /// When the take returned (unix ms): this job's work under the lock starts after it.
    taken_at_ms: u64,
}

/// What `FleetLock::take` found.
pub enum Take<'a> {
    Taken(FleetLock<'a>),
    HeldByOther(LockHolder),
}

impl<'a> FleetLock<'a> {
    /// Takes the lock of `doc_id` (the pipeline's document id) for `job_id`, riding out brief
    /// store outages.
    pub async fn take(
        store: &'a dyn JobStore,
        doc_id: String,
        job_id: Uuid,
        worker_id: &'a str,
        lease: Duration,
    ) -> docfleet_jobstore::Result<Take<'a>> {
        let answer = durably(
            || store.lock_document(&doc_id, job_id, worker_id, lease),
            docfleet_jobstore::Error::is_retryable,
        )
        .await?;
        Ok(match answer {
            DocumentLock::HeldByOther(holder) => Take::HeldByOther(holder),
            DocumentLock::Taken => {
                info!(%job_id, %doc_id, ?lease, "document lock taken");
                Take::Taken(FleetLock {
                    store,
                    doc_id,
                    job_id,
                    worker_id,
                    lease,
                    taken_at_ms: docfleet_core::time::now_unix_millis(),
                })
            }
        })
    }

    /// Renews the lease; false when another job took the document (our lease ran out).
    pub async fn renew(&self) -> docfleet_jobstore::Result<bool> {
        self.store
            .extend_document_lock(&self.doc_id, self.job_id, self.worker_id, self.lease)
            .await
    }

    /// Frees the document for the next job. Failing that, it frees itself when its lease runs
    /// out.
    pub async fn release(self) {
        // Read before the release starts: the times logged lie inside the lock's real hold, so
        // two jobs' logged intervals cannot overlap while the lock works.
        let until_ms = docfleet_core::time::now_unix_millis();
        let (job_id, doc_id) = (self.job_id, &self.doc_id);
        let released = durably(
            || self.store.unlock_document(doc_id, job_id, self.worker_id),
            docfleet_jobstore::Error::is_retryable,
        )
        .await;
        match released {
            Ok(true) => info!(%job_id, %doc_id, held_from_unix_ms = self.taken_at_ms,
                              held_until_unix_ms = until_ms, "document lock released"),
            Ok(false) => warn!(%job_id, %doc_id, "document lock was no longer this job's"),
            Err(e) => warn!(%job_id, %doc_id, error = %e,
                            "could not release the document lock; it frees itself when its lease runs out"),
        }
    }
}

/// How long a job waits for a document held by `holder` (`None`: the holder is not known):
/// about `DEFER_BASE`, but not past the holder's lease (plus a margin), since an expired lease
/// is free to take.
pub fn defer_delay(holder: Option<&LockHolder>) -> Duration {
    let jitter_ms = Uuid::new_v4().as_u128() % DEFER_JITTER.as_millis();
    let wait = DEFER_BASE + Duration::from_millis(u64::try_from(jitter_ms).unwrap_or(0));
    match holder {
        Some(h) => wait
            .min(docfleet_core::time::until_unix_millis(h.lease_expires_at_ms) + PAST_HOLDER_LEASE),
        None => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder_for(ms_from_now: i64) -> LockHolder {
        let now = docfleet_jobstore::now_ms();
        LockHolder {
            job_id: Uuid::new_v4(),
            worker_id: "w".into(),
            lease_expires_at_ms: now + ms_from_now,
        }
    }

    #[test]
    fn defer_is_about_two_seconds_and_never_past_the_holders_lease() {
        let (min, max) = (DEFER_BASE, DEFER_BASE + DEFER_JITTER);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let d = defer_delay(None);
            assert!(d >= min && d < max, "{d:?}");
            seen.insert(d);
            let long = defer_delay(Some(&holder_for(60_000)));
            assert!(long >= min && long < max, "{long:?}");
            let short = defer_delay(Some(&holder_for(200)));
            assert!(short <= Duration::from_millis(1200), "{short:?}");
            let expired = defer_delay(Some(&holder_for(-5_000)));
            assert_eq!(expired, PAST_HOLDER_LEASE);
        }
        assert!(seen.len() > 1, "jittered");
    }
}
