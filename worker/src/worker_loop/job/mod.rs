//! One delivery, from message to verdict. The order is what makes at-least-once delivery safe:
//! the job row is taken (`start`), the document is processed (idempotent writes), the row records
//! the outcome, and only then is the message settled. A crash anywhere before the settle means a
//! redelivery, which either finds the job finished (ack, nothing redone) or redoes it.
//!
//! - processing.rs: the work under the heartbeat (profile, model, document lock, processing).
//! - verdicts.rs: success, failure (retry or dead letter), callbacks, settling the message.

mod processing;
#[cfg(test)]
mod tests;
mod verdicts;

use std::sync::Arc;
use std::time::{Duration, Instant};

use docfleet_core::job::JobMessage;
use docfleet_jobstore::{JobStore, LockHolder, StartOutcome};
use docfleet_pipeline::Result as PipelineResult;
use docfleet_pipeline::process::Outcome;
use docfleet_queue::{Delivery, JobQueue};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use super::doc_locks::DocLocks;
use super::fleet_lock::defer_delay;
use super::metrics::{DeadLetterReason, JobOutcomeLabel, Metrics};
use super::retry::{RetryPolicy, durably};
use super::webhooks::Webhooks;
use crate::profile::ProfileCache;
use crate::wiring::Pipelines;

/// What every job needs; shared by all in-flight jobs.
pub struct JobContext {
    pub queue: Arc<dyn JobQueue>,
    pub store: Arc<dyn JobStore>,
    pub pipelines: Pipelines,
    pub metrics: Arc<Metrics>,
    pub worker_id: String,
    pub lease: Duration,
    pub max_attempts: u32,
    pub retry: RetryPolicy,
    pub doc_locks: DocLocks,
    pub webhooks: Arc<Webhooks>,
    /// Tenant profiles, read per job (cached for a short TTL).
    pub profiles: Arc<ProfileCache>,
}

fn store_retryable(e: &docfleet_jobstore::Error) -> bool {
    e.is_retryable()
}

/// How the processing of a started job ended.
enum Run {
    Done(PipelineResult<Outcome>),
    /// Shutdown ran past the drain timeout: give the job back.
    Cancelled,
    /// Another worker took the job over (our lease ran out): leave it to them.
    LeaseLost,
    /// Another job holds the document (fleet-wide lock): run after it.
    DocumentLocked(LockHolder),
    /// Our document lock ran out and another job took it: stop, run after it.
    DocumentLockLost,
    /// The job store could not take the document lock: try again later.
    DocumentLockUnavailable(docfleet_jobstore::Error),
}

/// Why a step under the heartbeat stopped before its work was done.
enum Stop {
    Cancelled,
    LeaseLost,
    DocumentLockLost,
}

impl From<Stop> for Run {
    fn from(stop: Stop) -> Run {
        match stop {
            Stop::Cancelled => Run::Cancelled,
            Stop::LeaseLost => Run::LeaseLost,
            Stop::DocumentLockLost => Run::DocumentLockLost,
        }
    }
}

impl JobContext {
    /// Handles one delivery to its verdict. Never fails: every problem becomes a verdict, a
    /// log line and a metric, and the worker goes on.
    pub async fn handle(self: Arc<Self>, d: Delivery, cancel: CancellationToken) {
        let msg = match JobMessage::parse(&d.body) {
            Ok(msg) => msg,
            Err(e) => {
                let reason = e.to_string();
                warn!(attempt = d.attempt, %reason, "dead-lettering a malformed message");
                self.settle("dead_letter", self.queue.dead_letter(&d, &reason).await);
                self.metrics.dead_lettered(DeadLetterReason::Malformed);
                return;
            }
        };
        // One trace per job: this span continues the submitter's (the API request's), carried
        // in the message's metadata; its retries and dead letter are events on it.
        let span = info_span!("job", otel.kind = "consumer", job_id = %msg.job_id,
                              tenant = %msg.tenant, source = %msg.source, attempt = d.attempt);
        crate::telemetry::set_parent(&span, &d.trace);
        self.run(&d, &msg, cancel).instrument(span).await;
    }

    async fn run(&self, d: &Delivery, msg: &JobMessage, cancel: CancellationToken) {
        let job_id = msg.job_id;
        let mut attempt = d.attempt;
        if !self.queue.claims_in_store() {
            match self.start(msg).await {
                Ok(StartOutcome::Started(row)) => attempt = attempt.max(row.attempts),
                Ok(StartOutcome::AlreadyFinished(state)) => {
                    info!(%state, "job already finished: acknowledging the redelivery");
                    self.settle("ack", self.queue.ack(d).await);
                    self.metrics.job(JobOutcomeLabel::Duplicate);
                    return;
                }
                Ok(StartOutcome::LeasedByOther {
                    worker_id,
                    lease_expires_at_ms,
                }) => {
                    let after = docfleet_core::time::until_unix_millis(lease_expires_at_ms)
                        + Duration::from_secs(1);
                    info!(holder = %worker_id, ?after, "another worker holds the job's lease");
                    self.settle("defer", self.queue.defer(d, after).await);
                    self.metrics.job(JobOutcomeLabel::Deferred);
                    return;
                }
                outcome @ (Ok(StartOutcome::NotFound) | Err(_)) => {
                    // The store is down (or the row vanished): try the message again later.
                    let after = self.retry.delay(attempt);
                    let why = match outcome {
                        Err(e) => e.to_string(),
                        _ => "the job row is missing right after its creation".to_owned(),
                    };
                    warn!(?after, error = %why, "could not start the job; retrying the message later");
                    self.settle("retry", self.queue.retry(d, after).await);
                    self.metrics.retried();
                    return;
                }
            }
        }

        let started = Instant::now();
        let in_flight = self.metrics.job_started();
        let run = self.process_with_heartbeat(d, msg, &cancel).await;
        drop(in_flight);
        self.metrics.job_took(started.elapsed());
        match run {
            Run::Done(Ok(outcome)) => self.succeeded(d, msg, outcome).await,
            Run::Done(Err(e)) => self.failed(d, msg, attempt, &e).await,
            Run::Cancelled => {
                info!("drain timeout: giving the job back");
                let released = durably(
                    || self.store.release(job_id, &self.worker_id),
                    store_retryable,
                )
                .await;
                if let Err(e) = released {
                    warn!(error = %e, "could not release the job row; its lease will run out");
                }
                self.settle("release", self.queue.release(d).await);
                self.metrics.job(JobOutcomeLabel::Released);
            }
            Run::LeaseLost => {
                warn!("lost the job's lease to another worker; leaving the job to it");
                self.settle("ack", self.queue.ack(d).await);
                self.metrics.job(JobOutcomeLabel::LeaseLost);
            }
            Run::DocumentLocked(holder) => {
                let after = defer_delay(Some(&holder));
                info!(%job_id, holder_job_id = %holder.job_id, holder_worker_id = %holder.worker_id,
                      ?after, "document locked by another job; deferring");
                self.defer(d, job_id, after).await;
            }
            Run::DocumentLockLost => {
                let after = defer_delay(None);
                warn!(%job_id, ?after, "lost the document lock to another job; deferring");
                self.defer(d, job_id, after).await;
            }
            Run::DocumentLockUnavailable(e) => {
                let after = self.retry.delay(attempt);
                warn!(%job_id, error = %e, ?after, "could not take the document lock; deferring");
                self.defer(d, job_id, after).await;
            }
        }
    }

    /// Gives a started job back for later without counting the attempt: the row is queued
    /// (the job-table queue claims it after `after`), the message delivered again after it.
    async fn defer(&self, d: &Delivery, job_id: uuid::Uuid, after: Duration) {
        let deferred = durably(
            || self.store.defer(job_id, &self.worker_id, after),
            store_retryable,
        )
        .await;
        if let Err(e) = deferred {
            warn!(error = %e, "could not give the job row back; its lease will run out");
        }
        self.settle("defer", self.queue.defer(d, after).await);
        self.metrics.job(JobOutcomeLabel::Deferred);
    }

    /// Creates the row if the producer did not (idempotent), then takes it.
    async fn start(&self, msg: &JobMessage) -> docfleet_jobstore::Result<StartOutcome> {
        durably(|| self.store.create(msg), store_retryable).await?;
        durably(
            || self.store.start(msg.job_id, &self.worker_id, self.lease),
            store_retryable,
        )
        .await
    }
}
