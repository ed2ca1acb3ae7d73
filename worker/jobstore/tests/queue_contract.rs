//! The `JobQueue` contract (worker/queue/tests/contract, the cases every queue adapter runs)
//! against the job-table queue, on PostgreSQL and SQLite (a fresh database per case; see
//! common/ for PostgreSQL's URL).
//!
//! The rows are the messages: a submit is `create`, and a verdict is the job-store transition
//! the runtime makes (`succeed`, `fail`, `defer`, `release`, `extend_lease`) before the queue
//! call, which only checks the handle. No body that is not a job can be queued, so the case of
//! such bodies is left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../queue/tests/contract/mod.rs"]
mod contract;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Backend, Ctx};
use contract::{Caps, DeadLetter, QueueHarness, Verdict, settle_on};
use docfleet_core::job::{JOB_MESSAGE_VERSION, JobMessage};
use docfleet_jobstore::{JobOutcome, JobRecord, JobState, JobStore, JobTableQueue, ListFilter};
use docfleet_queue::{Delivery, JobQueue, Result, TraceContext};

/// The claimed row's lease: short, so that a lost delivery comes back within the test.
const LEASE: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

pub struct TableHarness {
    store: Arc<dyn JobStore>,
    worker_id: String,
    queue: JobTableQueue,
    workers: u32,
}

impl TableHarness {
    fn new(ctx: Ctx) -> Self {
        let store = ctx.store;
        Self {
            queue: JobTableQueue::new(store.clone(), "w1", LEASE, POLL_INTERVAL),
            worker_id: "w1".into(),
            store,
            workers: 1,
        }
    }
}

async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(TableHarness) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::run(backend, |ctx| case(TableHarness::new(ctx))).await;
}

async fn run_postgres<F, Fut>(case: F)
where
    F: FnOnce(TableHarness) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(Backend::Postgres, case).await;
}

async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TableHarness) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(Backend::Sqlite, case).await;
}

contract::contract_suite!(postgres, crate::run_postgres, without_raw_bodies);
contract::contract_suite!(sqlite, crate::run_sqlite, without_raw_bodies);

/// The message a dead row stood for (what its deliveries carried).
fn message_of(row: &JobRecord) -> JobMessage {
    JobMessage {
        version: JOB_MESSAGE_VERSION,
        job_id: row.job_id,
        tenant: row.tenant.clone(),
        source: row.source.clone(),
        options: serde_json::from_value(row.options.clone()).unwrap(),
        submitted_at_unix_ms: u64::try_from(row.submitted_at_ms).unwrap(),
    }
}

#[async_trait]
impl QueueHarness for TableHarness {
    fn caps(&self) -> Caps {
        Caps {
            lease: Some(LEASE),
            counts_lost_deliveries: true,
            binary_bodies: false,
            rejoin: Duration::from_secs(1),
        }
    }

    fn queue(&self) -> &dyn JobQueue {
        &self.queue
    }

    async fn submit(&self, msg: &JobMessage, trace: &TraceContext) {
        let created = self.store.create_in_batch(msg, None, trace).await.unwrap();
        assert!(created, "a new job");
    }

    async fn settle(&self, d: &Delivery, verdict: Verdict<'_>) -> Result<()> {
        let (store, worker) = (&self.store, self.worker_id.as_str());
        let job_id = JobMessage::parse(&d.body).unwrap().job_id;
        let applied = match verdict {
            Verdict::Ack => store.succeed(job_id, worker, &JobOutcome::default()).await,
            Verdict::Retry(after) => {
                let state = store.fail(job_id, worker, "retried", false, after).await;
                state.map(|s| s == Some(JobState::Queued))
            }
            Verdict::Defer(after) => store.defer(job_id, worker, after).await,
            Verdict::DeadLetter(reason) => {
                let state = store
                    .fail(job_id, worker, reason, true, Duration::ZERO)
                    .await;
                state.map(|s| s == Some(JobState::Dead))
            }
            Verdict::Extend(lease) => store.extend_lease(job_id, worker, lease).await,
            Verdict::Release => store.release(job_id, worker).await,
        };
        assert!(applied.unwrap(), "{verdict:?} refused for {worker}'s row");
        settle_on(&self.queue, d, verdict).await
    }

    async fn restart_consumer(&mut self) {
        self.workers += 1;
        self.worker_id = format!("w{}", self.workers);
        self.queue = JobTableQueue::new(self.store.clone(), &self.worker_id, LEASE, POLL_INTERVAL);
    }

    async fn dead_letters(&self) -> Vec<DeadLetter> {
        let filter = ListFilter {
            state: Some(JobState::Dead),
            ..ListFilter::default()
        };
        let rows = self.store.list(&filter).await.unwrap();
        rows.iter()
            .map(|row| DeadLetter {
                body: message_of(row).to_bytes(),
                reason: row.error.clone().unwrap_or_default(),
                trace: row.trace.clone(),
            })
            .collect()
    }
}
