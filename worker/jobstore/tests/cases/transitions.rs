//! create, start, extend, succeed, fail, release and their guards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use docfleet_jobstore::{JobOutcome, JobRecord, JobState, JobStore, StartOutcome, StoreOptions};
use uuid::Uuid;

use super::{LONG, SHORT, claims_nothing, outlive_short_lease};
use crate::common::{Ctx, message};

fn started(outcome: StartOutcome) -> JobRecord {
    match outcome {
        StartOutcome::Started(job) => *job,
        other => panic!("expected Started, got {other:?}"),
    }
}

/// `fail` without a retry delay.
async fn fail_now(
    store: &dyn JobStore,
    id: Uuid,
    worker: &str,
    error: &str,
    terminal: bool,
) -> Option<JobState> {
    store
        .fail(id, worker, error, terminal, Duration::ZERO)
        .await
        .unwrap()
}

fn outcome(points: u64) -> JobOutcome {
    JobOutcome {
        timings: [("extract".to_owned(), 12), ("embed".to_owned(), 340)].into(),
        pages: 3,
        chunks: 7,
        points,
        artifacts: vec![
            "t/doc/sha/text.json".into(),
            "t/doc/sha/chunks.jsonl".into(),
        ],
        profile_version: Some(4),
        pii_counts: Some([("email".to_owned(), 2)].into()),
    }
}

pub async fn create_is_idempotent(ctx: Ctx) {
    let msg = message("acme");
    assert!(ctx.store.create(&msg).await.unwrap());
    assert!(!ctx.store.create(&msg).await.unwrap());
    let job = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.max_attempts, 5);
    assert_eq!(job.tenant, "acme");
    assert_eq!(job.source, msg.source);
    assert_eq!(job.options, serde_json::to_value(&msg.options).unwrap());
    assert_eq!(job.submitted_at_ms, 1_700_000_000_000);
    assert_eq!(job.worker_id, None);
    assert!(job.created_at_ms > 1_700_000_000_000);
    // A second create does not reset a job that moved on.
    started(ctx.store.start(msg.job_id, "w1", LONG).await.unwrap());
    assert!(!ctx.store.create(&msg).await.unwrap());
    let job = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
}

pub async fn start_then_succeed(ctx: Ctx) {
    let msg = message("acme");
    ctx.store.create(&msg).await.unwrap();
    let job = started(ctx.store.start(msg.job_id, "w1", LONG).await.unwrap());
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.worker_id.as_deref(), Some("w1"));
    let expires = job.lease_expires_at_ms.unwrap();
    assert!(expires >= job.updated_at_ms + 59_000, "lease ~60 s ahead");
    assert!(job.started_at_ms.is_some());

    assert!(
        ctx.store
            .succeed(msg.job_id, "w1", &outcome(7))
            .await
            .unwrap()
    );
    let job = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.lease_expires_at_ms, None);
    assert_eq!(job.worker_id.as_deref(), Some("w1"));
    assert_eq!(
        (job.pages, job.chunks, job.points),
        (Some(3), Some(7), Some(7))
    );
    assert_eq!(job.timings, Some(outcome(7).timings));
    assert_eq!(job.artifacts, Some(outcome(7).artifacts));
    assert_eq!(job.profile_version, Some(4));
    assert_eq!(job.pii_counts, outcome(7).pii_counts);
    assert!(job.finished_at_ms.is_some());
    assert_eq!(job.error, None);
}

pub async fn start_on_finished_job_acks(ctx: Ctx) {
    let ok = message("acme");
    ctx.store.create(&ok).await.unwrap();
    started(ctx.store.start(ok.job_id, "w1", LONG).await.unwrap());
    ctx.store
        .succeed(ok.job_id, "w1", &outcome(1))
        .await
        .unwrap();
    for worker in ["w1", "w2"] {
        let again = ctx.store.start(ok.job_id, worker, LONG).await.unwrap();
        assert_eq!(again, StartOutcome::AlreadyFinished(JobState::Succeeded));
    }
    let dead = message("acme");
    ctx.store.create(&dead).await.unwrap();
    started(ctx.store.start(dead.job_id, "w1", LONG).await.unwrap());
    let state = fail_now(&*ctx.store, dead.job_id, "w1", "corrupt PDF", true).await;
    assert_eq!(state, Some(JobState::Dead));
    let again = ctx.store.start(dead.job_id, "w2", LONG).await.unwrap();
    assert_eq!(again, StartOutcome::AlreadyFinished(JobState::Dead));
    assert_eq!(ctx.store.get(ok.job_id).await.unwrap().unwrap().attempts, 1);
}

pub async fn start_on_missing_job_is_not_found(ctx: Ctx) {
    let outcome = ctx.store.start(Uuid::new_v4(), "w1", LONG).await.unwrap();
    assert_eq!(outcome, StartOutcome::NotFound);
}

pub async fn start_refuses_live_lease_of_other_worker(ctx: Ctx) {
    let msg = message("acme");
    ctx.store.create(&msg).await.unwrap();
    let job = started(ctx.store.start(msg.job_id, "w1", LONG).await.unwrap());
    match ctx.store.start(msg.job_id, "w2", LONG).await.unwrap() {
        StartOutcome::LeasedByOther {
            worker_id,
            lease_expires_at_ms,
        } => {
            assert_eq!(worker_id, "w1");
            assert_eq!(Some(lease_expires_at_ms), job.lease_expires_at_ms);
        }
        other => panic!("expected LeasedByOther, got {other:?}"),
    }
    // The holder itself may start it again (a redelivery to the same worker).
    let again = started(ctx.store.start(msg.job_id, "w1", LONG).await.unwrap());
    assert_eq!(again.attempts, 2);
}

pub async fn other_worker_cannot_transition(ctx: Ctx) {
    let msg = message("acme");
    ctx.store.create(&msg).await.unwrap();
    started(ctx.store.start(msg.job_id, "w1", LONG).await.unwrap());
    let id = msg.job_id;
    assert!(!ctx.store.succeed(id, "w2", &outcome(1)).await.unwrap());
    assert_eq!(fail_now(&*ctx.store, id, "w2", "boom", false).await, None);
    assert_eq!(fail_now(&*ctx.store, id, "w2", "boom", true).await, None);
    assert!(!ctx.store.extend_lease(id, "w2", LONG).await.unwrap());
    assert!(!ctx.store.release(id, "w2").await.unwrap());
    let job = ctx.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.worker_id.as_deref(), Some("w1"));
    assert_eq!(job.error, None);
    // A queued job has no owner: nothing but start/lease_next moves it.
    let queued = message("acme");
    ctx.store.create(&queued).await.unwrap();
    assert!(
        !ctx.store
            .succeed(queued.job_id, "w1", &outcome(1))
            .await
            .unwrap()
    );
    assert!(!ctx.store.release(queued.job_id, "w1").await.unwrap());
}

pub async fn stale_worker_cannot_overwrite_newer_outcome(ctx: Ctx) {
    let msg = message("acme");
    let id = msg.job_id;
    ctx.store.create(&msg).await.unwrap();
    started(ctx.store.start(id, "w1", SHORT).await.unwrap());
    outlive_short_lease().await;
    // w1 looks dead; w2 takes the job over.
    let job = started(ctx.store.start(id, "w2", LONG).await.unwrap());
    assert_eq!(job.attempts, 2);
    // w1 comes back late: every transition is refused.
    assert!(!ctx.store.extend_lease(id, "w1", LONG).await.unwrap());
    assert!(!ctx.store.succeed(id, "w1", &outcome(99)).await.unwrap());
    assert_eq!(fail_now(&*ctx.store, id, "w1", "late", true).await, None);
    assert!(!ctx.store.release(id, "w1").await.unwrap());
    assert!(ctx.store.succeed(id, "w2", &outcome(7)).await.unwrap());
    // And once succeeded, nothing changes it again, not even its own worker.
    assert!(!ctx.store.succeed(id, "w2", &outcome(1)).await.unwrap());
    assert_eq!(fail_now(&*ctx.store, id, "w2", "x", true).await, None);
    assert!(!ctx.store.release(id, "w2").await.unwrap());
    assert!(!ctx.store.extend_lease(id, "w2", LONG).await.unwrap());
    let job = ctx.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.worker_id.as_deref(), Some("w2"));
    assert_eq!(job.points, Some(7));
}

pub async fn fail_retries_then_terminal_is_dead(ctx: Ctx) {
    let msg = message("acme");
    let id = msg.job_id;
    ctx.store.create(&msg).await.unwrap();
    started(ctx.store.start(id, "w1", LONG).await.unwrap());
    let state = fail_now(&*ctx.store, id, "w1", "store unavailable", false).await;
    assert_eq!(state, Some(JobState::Queued));
    let job = ctx.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.error.as_deref(), Some("store unavailable"));
    assert_eq!((job.worker_id, job.lease_expires_at_ms), (None, None));
    assert_eq!(job.attempts, 1);

    let job = started(ctx.store.start(id, "w2", LONG).await.unwrap());
    assert_eq!(job.attempts, 2);
    assert_eq!(job.error.as_deref(), Some("store unavailable"));
    let state = fail_now(&*ctx.store, id, "w2", "corrupt PDF", true).await;
    assert_eq!(state, Some(JobState::Dead));
    let job = ctx.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.error.as_deref(), Some("corrupt PDF"));
    assert_eq!(job.worker_id.as_deref(), Some("w2"));
    assert!(job.finished_at_ms.is_some());
    assert_eq!(
        ctx.store.start(id, "w3", LONG).await.unwrap(),
        StartOutcome::AlreadyFinished(JobState::Dead)
    );
}

pub async fn fail_after_max_attempts_is_dead(ctx: Ctx) {
    let options = StoreOptions {
        max_attempts: 2,
        ..StoreOptions::default()
    };
    let store = ctx.open_with(&options).await;
    let msg = message("acme");
    store.create(&msg).await.unwrap();
    started(store.start(msg.job_id, "w1", LONG).await.unwrap());
    let first = fail_now(&*store, msg.job_id, "w1", "timeout", false).await;
    assert_eq!(first, Some(JobState::Queued));
    started(store.start(msg.job_id, "w1", LONG).await.unwrap());
    let second = fail_now(&*store, msg.job_id, "w1", "timeout", false).await;
    assert_eq!(second, Some(JobState::Dead));
    let job = store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Dead, 2, 2)
    );
    store.close().await;
}

pub async fn release_does_not_count_the_attempt(ctx: Ctx) {
    let msg = message("acme");
    let id = msg.job_id;
    ctx.store.create(&msg).await.unwrap();
    started(ctx.store.start(id, "w1", LONG).await.unwrap());
    assert!(ctx.store.release(id, "w1").await.unwrap());
    let job = ctx.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!((job.worker_id, job.lease_expires_at_ms), (None, None));
    assert!(!ctx.store.release(id, "w1").await.unwrap(), "released once");
    let job = started(ctx.store.start(id, "w2", LONG).await.unwrap());
    assert_eq!(job.attempts, 1);
}

pub async fn extend_lease_keeps_the_job(ctx: Ctx) {
    let msg = message("acme");
    let id = msg.job_id;
    ctx.store.create(&msg).await.unwrap();
    let job = started(ctx.store.start(id, "w1", SHORT).await.unwrap());
    assert!(ctx.store.extend_lease(id, "w1", LONG).await.unwrap());
    let extended = ctx.store.get(id).await.unwrap().unwrap();
    assert!(extended.lease_expires_at_ms > job.lease_expires_at_ms);
    outlive_short_lease().await;
    assert!(matches!(
        ctx.store.start(id, "w2", LONG).await.unwrap(),
        StartOutcome::LeasedByOther { .. }
    ));
    assert!(claims_nothing(&*ctx.store, "w2", 10).await);
    assert!(ctx.store.succeed(id, "w1", &outcome(1)).await.unwrap());
}
