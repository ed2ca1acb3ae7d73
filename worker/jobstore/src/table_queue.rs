//! The job-table queue (`--queue local`): the `jobs` table itself is the queue, so a worker needs
//! no broker. `receive` claims rows with `JobStore::lease_next` (FIFO; `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, a write transaction on SQLite); a crashed worker's rows come back when their lease
//! expires, and a row that outlives `max_attempts` leases is moved to `dead`.
//!
//! The row is the message: a claimed row is already `running` for this worker (the runtime does
//! not `start` it again, see [`JobQueue::claims_in_store`]), and the runtime's job-store
//! transition (`succeed`, `fail` with its retry delay, `defer` with its delay, `release`,
//! `extend_lease`) is the verdict. The verdict calls here therefore only check the handle;
//! nothing is left to tell a broker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use docfleet_core::job::{JOB_MESSAGE_VERSION, JobMessage, JobOptions};
use docfleet_queue::{Delivery, DeliveryHandle, JobQueue, QueueDepth};

use crate::{JobRecord, JobStore};

/// What a job-table [`Delivery`] carries: nothing but its origin (the body has the job id).
#[derive(Debug)]
struct RowHandle;

pub struct JobTableQueue {
    store: Arc<dyn JobStore>,
    worker_id: String,
    lease: Duration,
    poll_interval: Duration,
}

impl JobTableQueue {
    /// `lease`: how long a claimed row stays this worker's without a heartbeat;
    /// `poll_interval`: how often an idle `receive` looks for new rows.
    pub fn new(
        store: Arc<dyn JobStore>,
        worker_id: impl Into<String>,
        lease: Duration,
        poll_interval: Duration,
    ) -> Self {
        Self {
            store,
            worker_id: worker_id.into(),
            lease,
            poll_interval,
        }
    }

    fn check(&self, d: &Delivery) -> docfleet_queue::Result<()> {
        d.handle
            .downcast_ref::<RowHandle>()
            .map(|_| ())
            .ok_or(docfleet_queue::Error::ForeignHandle)
    }
}

/// The message a claimed row stands for.
fn delivery(job: &JobRecord) -> Delivery {
    let options: JobOptions = serde_json::from_value(job.options.clone()).unwrap_or_default();
    let msg = JobMessage {
        version: JOB_MESSAGE_VERSION,
        job_id: job.job_id,
        tenant: job.tenant.clone(),
        source: job.source.clone(),
        options,
        submitted_at_unix_ms: u64::try_from(job.submitted_at_ms).unwrap_or(0),
    };
    Delivery {
        body: msg.to_bytes(),
        attempt: job.attempts,
        trace: job.trace.clone(),
        handle: DeliveryHandle::new(RowHandle),
    }
}

fn unavailable(e: crate::Error) -> docfleet_queue::Error {
    if e.is_retryable() {
        docfleet_queue::Error::unavailable_from(e)
    } else {
        docfleet_queue::Error::Config(e.to_string())
    }
}

#[async_trait]
impl JobQueue for JobTableQueue {
    async fn receive(&self, max: usize, wait: Duration) -> docfleet_queue::Result<Vec<Delivery>> {
        let deadline = Instant::now() + wait;
        loop {
            let jobs = self
                .store
                .lease_next(&self.worker_id, max, self.lease)
                .await
                .map_err(unavailable)?;
            if !jobs.is_empty() {
                return Ok(jobs.iter().map(delivery).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            tokio::time::sleep(left.min(self.poll_interval)).await;
        }
    }

    async fn ack(&self, d: &Delivery) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn retry(&self, d: &Delivery, _after: Duration) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn defer(&self, d: &Delivery, _after: Duration) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn dead_letter(&self, d: &Delivery, _reason: &str) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn extend(&self, d: &Delivery, _lease: Duration) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn release(&self, d: &Delivery) -> docfleet_queue::Result<()> {
        self.check(d)
    }

    async fn depth(&self) -> docfleet_queue::Result<QueueDepth> {
        let counts = self
            .store
            .counts_by_state(None)
            .await
            .map_err(unavailable)?;
        Ok(QueueDepth {
            ready: Some(counts.queued + counts.failed),
            unacked: Some(counts.running),
            consumers: None,
        })
    }

    fn claims_in_store(&self) -> bool {
        true
    }
}
