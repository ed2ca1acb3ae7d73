//! Document locks (one job per document at a time across the fleet) and `defer`, the job
//! transition of a job that found its document locked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_jobstore::{DocumentLock, JobState, JobStore, LockHolder};
use uuid::Uuid;

use super::{LONG, SHORT, outlive_short_lease};
use crate::common::{Ctx, create_jobs, ids};

const DOC: &str = "0123456789abcdef0123456789abcdef";

fn holder(lock: DocumentLock) -> LockHolder {
    match lock {
        DocumentLock::HeldByOther(holder) => holder,
        DocumentLock::Taken => panic!("expected the document to be held by another job"),
    }
}

/// Job `job` on `worker` does not hold the lock: it can neither renew nor free it.
async fn assert_not_held_by(store: &dyn JobStore, job: Uuid, worker: &str) {
    let renewed = store.extend_document_lock(DOC, job, worker, LONG).await;
    assert!(
        !renewed.unwrap(),
        "{job} on {worker} renewed a lock it does not hold"
    );
    let freed = store.unlock_document(DOC, job, worker).await;
    assert!(
        !freed.unwrap(),
        "{job} on {worker} freed a lock it does not hold"
    );
}

pub async fn document_lock_refuses_a_second_job(ctx: Ctx) {
    let (j1, j2) = (Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    assert_eq!(
        store.lock_document(DOC, j1, "w1", LONG).await.unwrap(),
        DocumentLock::Taken
    );
    let refused = holder(store.lock_document(DOC, j2, "w2", LONG).await.unwrap());
    assert_eq!((refused.job_id, refused.worker_id.as_str()), (j1, "w1"));
    let job = create_jobs(store.as_ref(), "acme", 1).await;
    let now = store.get(job[0]).await.unwrap().unwrap().created_at_ms;
    assert!(
        refused.lease_expires_at_ms >= now + 59_000,
        "the holder's lease, ~60 s ahead: {refused:?} (now {now})"
    );
    // Refused on the same worker too: the lock is per job, not per worker.
    holder(store.lock_document(DOC, j2, "w1", LONG).await.unwrap());
}

pub async fn document_lock_is_retaken_by_its_job(ctx: Ctx) {
    let (j1, j2) = (Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    assert_eq!(
        store.lock_document(DOC, j1, "w1", SHORT).await.unwrap(),
        DocumentLock::Taken
    );
    // Its redelivery on the same worker, then on another (which took the job over): renewed.
    for worker in ["w1", "w2"] {
        assert_eq!(
            store.lock_document(DOC, j1, worker, LONG).await.unwrap(),
            DocumentLock::Taken
        );
    }
    outlive_short_lease().await;
    let refused = holder(store.lock_document(DOC, j2, "w3", LONG).await.unwrap());
    assert_eq!(
        (refused.job_id, refused.worker_id.as_str()),
        (j1, "w2"),
        "the re-take renewed the lease and moved it to the job's new worker"
    );
    // The worker the job moved away from no longer holds it.
    assert_not_held_by(store.as_ref(), j1, "w1").await;
    assert!(
        store
            .extend_document_lock(DOC, j1, "w2", LONG)
            .await
            .unwrap()
    );
}

pub async fn document_lock_expires_and_is_taken_over(ctx: Ctx) {
    let (j1, j2, j3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    store.lock_document(DOC, j1, "w1", SHORT).await.unwrap();
    holder(store.lock_document(DOC, j2, "w2", LONG).await.unwrap());
    outlive_short_lease().await;
    assert_eq!(
        store.lock_document(DOC, j2, "w2", LONG).await.unwrap(),
        DocumentLock::Taken,
        "a crashed holder's expired lease is taken over"
    );
    // The old holder finds out at its next renewal and cannot free the new holder's lock.
    assert_not_held_by(store.as_ref(), j1, "w1").await;
    let refused = holder(store.lock_document(DOC, j3, "w3", LONG).await.unwrap());
    assert_eq!(refused.job_id, j2);
}

pub async fn document_lock_is_extended_by_its_holder_only(ctx: Ctx) {
    let (j1, j2) = (Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    store.lock_document(DOC, j1, "w1", SHORT).await.unwrap();
    assert!(
        !store
            .extend_document_lock(DOC, j2, "w1", LONG)
            .await
            .unwrap()
    );
    assert!(
        !store
            .extend_document_lock(DOC, j1, "w2", LONG)
            .await
            .unwrap()
    );
    assert!(
        store
            .extend_document_lock(DOC, j1, "w1", LONG)
            .await
            .unwrap()
    );
    outlive_short_lease().await;
    let refused = holder(store.lock_document(DOC, j2, "w2", LONG).await.unwrap());
    assert_eq!(
        refused.job_id, j1,
        "the extended lease outlives the short one"
    );
    // Nothing to extend once released.
    assert!(store.unlock_document(DOC, j1, "w1").await.unwrap());
    assert!(
        !store
            .extend_document_lock(DOC, j1, "w1", LONG)
            .await
            .unwrap()
    );
}

pub async fn document_lock_is_unlocked_by_its_holder_only(ctx: Ctx) {
    let (j1, j2) = (Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    store.lock_document(DOC, j1, "w1", LONG).await.unwrap();
    assert!(!store.unlock_document(DOC, j2, "w1").await.unwrap());
    assert!(!store.unlock_document(DOC, j1, "w2").await.unwrap());
    holder(store.lock_document(DOC, j2, "w2", LONG).await.unwrap());
    assert!(store.unlock_document(DOC, j1, "w1").await.unwrap());
    assert!(
        !store.unlock_document(DOC, j1, "w1").await.unwrap(),
        "unlocked once"
    );
    assert_eq!(
        store.lock_document(DOC, j2, "w2", LONG).await.unwrap(),
        DocumentLock::Taken,
        "free again"
    );
}

pub async fn document_locks_of_distinct_documents_are_independent(ctx: Ctx) {
    let (j1, j2) = (Uuid::new_v4(), Uuid::new_v4());
    let store = &ctx.store;
    let other = "fedcba9876543210fedcba9876543210";
    store.lock_document(DOC, j1, "w1", LONG).await.unwrap();
    assert_eq!(
        store.lock_document(other, j2, "w2", LONG).await.unwrap(),
        DocumentLock::Taken
    );
    assert!(store.unlock_document(other, j2, "w2").await.unwrap());
    holder(store.lock_document(DOC, j2, "w2", LONG).await.unwrap());
}

/// Many jobs on their own connections race for one free document: exactly one wins, and every
/// other one is told it is the winner that holds it.
pub async fn document_lock_concurrent_takers_one_wins(ctx: Ctx) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = ctx.open().await;
        tasks.push(tokio::spawn(async move {
            let job = Uuid::new_v4();
            let got = store
                .lock_document(DOC, job, &format!("w{i}"), LONG)
                .await
                .unwrap();
            store.close().await;
            (job, got)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let winners: Vec<Uuid> = outcomes
        .iter()
        .filter(|(_, got)| *got == DocumentLock::Taken)
        .map(|(job, _)| *job)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (_, got) in &outcomes {
        if let DocumentLock::HeldByOther(h) = got {
            assert_eq!(h.job_id, winners[0]);
        }
    }
}

pub async fn defer_releases_and_waits_before_the_next_claim(ctx: Ctx) {
    let store = &ctx.store;
    let all = create_jobs(store.as_ref(), "acme", 2).await;
    let first = store.lease_next("w1", 1, LONG).await.unwrap();
    assert_eq!(ids(&first), all[..1]);
    assert!(!store.defer(all[0], "w2", SHORT).await.unwrap(), "not w2's");
    assert!(store.defer(all[0], "w1", SHORT).await.unwrap());
    let job = store.get(all[0]).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    assert_eq!((job.worker_id, job.lease_expires_at_ms), (None, None));
    assert!(!store.defer(all[0], "w1", SHORT).await.unwrap(), "once");
    // Not claimed before its delay; the next job goes ahead.
    let next = store.lease_next("w2", 10, LONG).await.unwrap();
    assert_eq!(ids(&next), all[1..]);
    outlive_short_lease().await;
    let again = store.lease_next("w2", 10, LONG).await.unwrap();
    assert_eq!(ids(&again), all[..1]);
    assert_eq!(again[0].attempts, 1, "the deferred attempt did not count");
}
