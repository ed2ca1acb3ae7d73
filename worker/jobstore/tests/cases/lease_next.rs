//! The job-table queue: `lease_next`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use docfleet_jobstore::{JobOutcome, JobState, StoreOptions};
use uuid::Uuid;

use super::{LONG, SHORT, claims_nothing, outlive_short_lease};
use crate::common::{Ctx, create_jobs, ids};

pub async fn lease_next_is_fifo(ctx: Ctx) {
    let all = create_jobs(ctx.store.as_ref(), "acme", 5).await;
    let first = ctx.store.lease_next("w1", 3, LONG).await.unwrap();
    assert_eq!(ids(&first), all[..3]);
    for job in &first {
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.worker_id.as_deref(), Some("w1"));
        assert_eq!(job.attempts, 1);
        assert!(job.lease_expires_at_ms.is_some());
    }
    // A job released back to the queue keeps its place at the head.
    assert!(ctx.store.release(all[1], "w1").await.unwrap());
    let rest = ctx.store.lease_next("w2", 10, LONG).await.unwrap();
    assert_eq!(ids(&rest), vec![all[1], all[3], all[4]]);
    assert!(claims_nothing(&*ctx.store, "w3", 10).await);
    assert!(claims_nothing(&*ctx.store, "w3", 0).await);
}

pub async fn lease_next_concurrent_leasers_claim_disjoint_sets(ctx: Ctx) {
    const JOBS: usize = 50;
    const WORKERS: usize = 4;
    let all: HashSet<Uuid> = create_jobs(ctx.store.as_ref(), "acme", JOBS)
        .await
        .into_iter()
        .collect();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        // Each worker has its own pool, as separate processes would.
        let store = ctx.open().await;
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut claimed = Vec::new();
            loop {
                let jobs = store.lease_next(&worker, 3, LONG).await.unwrap();
                if jobs.is_empty() {
                    break;
                }
                for job in jobs {
                    assert_eq!(job.worker_id.as_deref(), Some(worker.as_str()));
                    assert_eq!(job.attempts, 1, "claimed twice: {}", job.job_id);
                    let done = store
                        .succeed(job.job_id, &worker, &JobOutcome::default())
                        .await
                        .unwrap();
                    assert!(done, "{worker} lost {} it had claimed", job.job_id);
                    claimed.push(job.job_id);
                }
                tokio::task::yield_now().await;
            }
            store.close().await;
            claimed
        }));
    }
    let mut seen = HashSet::new();
    let mut per_worker = Vec::new();
    for task in tasks {
        let claimed = task.await.unwrap();
        per_worker.push(claimed.len());
        for id in claimed {
            assert!(seen.insert(id), "job {id} claimed by two workers");
        }
    }
    assert_eq!(seen, all, "every job claimed exactly once");
    assert_eq!(per_worker.iter().sum::<usize>(), JOBS);
    let counts = ctx.store.counts_by_state(None).await.unwrap();
    assert_eq!(counts.succeeded, JOBS as u64);
    assert_eq!(counts.total(), JOBS as u64);
}

pub async fn lease_next_reclaims_expired_lease(ctx: Ctx) {
    let all = create_jobs(ctx.store.as_ref(), "acme", 2).await;
    let claimed = ctx.store.lease_next("w1", 1, SHORT).await.unwrap();
    assert_eq!(ids(&claimed), vec![all[0]]);
    let live = ctx.store.lease_next("w2", 1, LONG).await.unwrap();
    assert_eq!(
        ids(&live),
        vec![all[1]],
        "a job with a live lease is not claimed"
    );
    assert!(claims_nothing(&*ctx.store, "w3", 5).await);
    // w1 "crashes": its lease runs out and another worker picks the job up.
    outlive_short_lease().await;
    let again = ctx.store.lease_next("w3", 5, LONG).await.unwrap();
    assert_eq!(ids(&again), vec![all[0]]);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].worker_id.as_deref(), Some("w3"));
    assert!(
        !ctx.store
            .succeed(all[0], "w1", &JobOutcome::default())
            .await
            .unwrap()
    );
    assert!(
        ctx.store
            .succeed(all[0], "w3", &JobOutcome::default())
            .await
            .unwrap()
    );
}

pub async fn lease_next_dead_letters_exhausted_expired_lease(ctx: Ctx) {
    let options = StoreOptions {
        max_attempts: 1,
        ..StoreOptions::default()
    };
    let store = ctx.open_with(&options).await;
    let all = create_jobs(store.as_ref(), "acme", 2).await;
    let claimed = store.lease_next("w1", 1, SHORT).await.unwrap();
    assert_eq!(ids(&claimed), vec![all[0]]);
    outlive_short_lease().await;
    // The first job used its only attempt and its worker vanished: dead, not retried.
    let next = store.lease_next("w2", 5, LONG).await.unwrap();
    assert_eq!(ids(&next), vec![all[1]]);
    let dead = store.get(all[0]).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.error.unwrap().contains("attempt limit"));
    assert_eq!(dead.lease_expires_at_ms, None);
    store.close().await;
}

pub async fn lease_next_waits_for_retry_delay(ctx: Ctx) {
    let all = create_jobs(ctx.store.as_ref(), "acme", 2).await;
    let first = ctx.store.lease_next("w1", 1, LONG).await.unwrap();
    assert_eq!(ids(&first), all[..1]);
    let state = ctx
        .store
        .fail(all[0], "w1", "store unavailable", false, SHORT)
        .await
        .unwrap();
    assert_eq!(state, Some(JobState::Queued));
    // The failed job waits out its delay; the next one goes ahead of it.
    let next = ctx.store.lease_next("w2", 10, LONG).await.unwrap();
    assert_eq!(ids(&next), all[1..]);
    outlive_short_lease().await;
    let retried = ctx.store.lease_next("w2", 10, LONG).await.unwrap();
    assert_eq!(ids(&retried), all[..1]);
    assert_eq!(retried[0].attempts, 2);
    assert_eq!(retried[0].error.as_deref(), Some("store unavailable"));
}

pub async fn table_queue_delivers_rows_as_messages(ctx: Ctx) {
    use docfleet_core::job::JobMessage;
    use docfleet_jobstore::JobTableQueue;
    use docfleet_queue::JobQueue;

    let all = create_jobs(ctx.store.as_ref(), "acme", 3).await;
    let queue = JobTableQueue::new(ctx.store.clone(), "w1", LONG, SHORT);
    assert!(queue.claims_in_store());
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.ready, depth.unacked), (Some(3), Some(0)));

    let got = queue.receive(2, LONG).await.unwrap();
    assert_eq!(got.len(), 2);
    for (d, id) in got.iter().zip(&all) {
        let msg = JobMessage::parse(&d.body).unwrap();
        assert_eq!((msg.job_id, msg.tenant.as_str()), (*id, "acme"));
        assert_eq!(d.attempt, 1);
        queue.ack(d).await.unwrap();
    }
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.ready, depth.unacked), (Some(1), Some(2)));
    assert_eq!(queue.receive(5, LONG).await.unwrap().len(), 1);

    // Nothing left: receive waits about `wait`, polling, then returns empty.
    let t = std::time::Instant::now();
    assert!(queue.receive(5, SHORT * 2).await.unwrap().is_empty());
    assert!(t.elapsed() >= SHORT * 2);
}

/// The submitter's trace context, recorded with the row, is what the table queue's delivery
/// carries (the worker's spans join the API request's trace).
pub async fn table_queue_carries_the_rows_trace_context(ctx: Ctx) {
    use docfleet_jobstore::JobTableQueue;
    use docfleet_queue::{JobQueue, TraceContext};

    let trace = TraceContext {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        tracestate: Some("congo=t61rcWkgMzE".into()),
    };
    let traced = crate::common::message("acme");
    let plain = crate::common::message("acme");
    assert!(
        ctx.store
            .create_in_batch(&traced, None, &trace)
            .await
            .unwrap()
    );
    assert!(ctx.store.create(&plain).await.unwrap());
    let row = ctx.store.get(traced.job_id).await.unwrap().unwrap();
    assert_eq!(row.trace, trace);

    let queue = JobTableQueue::new(ctx.store.clone(), "w1", LONG, SHORT);
    let got = queue.receive(2, LONG).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].trace, trace);
    assert!(got[1].trace.is_empty());
}
