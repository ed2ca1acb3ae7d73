//! The verdict rules of a failed attempt, against a real job store (SQLite) and the real
//! pipeline (model and PDFium from ./scripts/setup): transient errors are retried with a
//! delay until `max_attempts`, then dead with "gave up"; permanent errors are dead at once.

use super::*;
use clap::Parser;
use docfleet_core::job::JobOptions;
use docfleet_jobstore::{JobState, JobTableQueue, SqliteJobStore, StoreOptions};
use docfleet_pipeline::Error as PipelineError;

use crate::cli::Cli;

async fn context(dir: &std::path::Path, max_attempts: u32) -> Arc<JobContext> {
    let data = dir.to_str().unwrap();
    // In-process extraction: the test binary cannot be an extractor child.
    let cli = Cli::parse_from([
        "docfleet",
        "--data-dir",
        data,
        "run",
        "--extract-processes",
        "0",
        "x",
    ]);
    let crate::cli::Command::Run { pipeline, .. } = &cli.command else {
        unreachable!()
    };
    let options = StoreOptions {
        max_attempts,
        ..StoreOptions::default()
    };
    let store: Arc<dyn JobStore> = Arc::new(
        SqliteJobStore::open_with(dir.join("jobs.sqlite"), &options)
            .await
            .unwrap(),
    );
    let lease = Duration::from_secs(60);
    Arc::new(JobContext {
        queue: Arc::new(JobTableQueue::new(store.clone(), "w", lease, lease)),
        profiles: Arc::new(ProfileCache::new(store.clone(), Duration::ZERO)),
        store,
        pipelines: crate::wiring::build_pipelines(&cli.common, pipeline, None)
            .await
            .unwrap(),
        metrics: Metrics::new(),
        worker_id: "w".into(),
        lease,
        max_attempts,
        retry: RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        },
        doc_locks: DocLocks::default(),
        webhooks: Webhooks::new(
            None,
            1,
            RetryPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
        )
        .unwrap(),
    })
}

async fn next_delivery(ctx: &JobContext) -> Delivery {
    let mut got = ctx.queue.receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.len(), 1, "a claimable job");
    got.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_until_max_attempts_then_die() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path(), 2).await;
    let msg = JobMessage::new("acme", "file:///docs/a.pdf", JobOptions::default()).unwrap();
    ctx.store.create(&msg).await.unwrap();
    let transient = PipelineError::Io(std::io::Error::other("disk went away"));
    assert!(transient.is_retryable());

    let d = next_delivery(&ctx).await;
    ctx.failed(&d, &msg, d.attempt, &transient).await;
    let row = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        JobState::Queued,
        "first transient failure is retried"
    );
    assert_eq!(
        row.error.as_deref(),
        Some("file:///docs/a.pdf: I/O: disk went away")
    );

    tokio::time::sleep(Duration::from_millis(20)).await; // past the retry delay
    let d = next_delivery(&ctx).await;
    assert_eq!(d.attempt, 2);
    ctx.failed(&d, &msg, d.attempt, &transient).await;
    let row = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Dead, "max_attempts reached");
    assert!(row.error.unwrap().contains("gave up after 2 attempts"));
    assert!(
        ctx.metrics
            .render()
            .contains("reason=\"attempts_exhausted\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_die_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path(), 5).await;
    let msg = JobMessage::new("acme", "file:///docs/b.pdf", JobOptions::default()).unwrap();
    ctx.store.create(&msg).await.unwrap();
    let d = next_delivery(&ctx).await;
    ctx.failed(&d, &msg, d.attempt, &PipelineError::Encrypted)
        .await;
    let row = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (JobState::Dead, 1));
    assert!(ctx.metrics.render().contains("reason=\"permanent\"} 1"));
}

/// On the job-table queue: a job whose document another job holds goes back to the table
/// without counting the attempt, is not claimed again before its delay, and once the
/// document is free it runs and releases the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_document_defers_the_job_until_it_is_free() {
    use docfleet_jobstore::DocumentLock;
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path(), 5).await;
    let note = dir.path().join("note.txt");
    std::fs::write(
        &note,
        "Harbour cranes lift containers off the ships at dawn.",
    )
    .unwrap();
    let source = format!("file://{}", note.display());
    let msg = JobMessage::new("acme", &source, JobOptions::default()).unwrap();
    ctx.store.create(&msg).await.unwrap();
    let doc_id = docfleet_pipeline::doc::doc_id("acme", &source);
    let (other, lease) = (uuid::Uuid::new_v4(), Duration::from_secs(60));
    let locked = ctx.store.lock_document(&doc_id, other, "w2", lease);
    assert_eq!(locked.await.unwrap(), DocumentLock::Taken);

    let d = next_delivery(&ctx).await;
    ctx.clone().handle(d, CancellationToken::new()).await;
    let row = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (JobState::Queued, 0), "{row:?}");
    assert!(
        ctx.metrics
            .render()
            .contains("docfleet_jobs_total{outcome=\"deferred\"} 1")
    );
    let early = ctx.queue.receive(1, Duration::ZERO).await.unwrap();
    assert!(early.is_empty(), "claimed again before its delay");

    assert!(
        ctx.store
            .unlock_document(&doc_id, other, "w2")
            .await
            .unwrap()
    );
    // Past the delay (at most 2.5 s): the receive looks again when its wait is over.
    let mut again = ctx.queue.receive(1, Duration::from_secs(3)).await.unwrap();
    assert_eq!(again.len(), 1, "claimable after its delay");
    assert_eq!(again[0].attempt, 1, "the deferred attempt did not count");
    ctx.clone()
        .handle(again.remove(0), CancellationToken::new())
        .await;
    let row = ctx.store.get(msg.job_id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Succeeded, "{row:?}");
    let free = ctx.store.lock_document(&doc_id, other, "w2", lease);
    assert_eq!(free.await.unwrap(), DocumentLock::Taken, "released");
}
