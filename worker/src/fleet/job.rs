//! One delivery, from message to verdict. The order is what makes at-least-once delivery safe:
//! the job row is taken (`start`), the document is processed (idempotent writes), the row records
//! the outcome, and only then is the message settled. A crash anywhere before the settle means a
//! redelivery, which either finds the job finished (ack, nothing redone) or redoes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use docfleet_jobstore::{JobOutcome, JobState, JobStore, LockHolder, StartOutcome};
use docfleet_pipeline::job::JobMessage;
use docfleet_pipeline::process::{DocJob, Outcome};
use docfleet_pipeline::source::SourceUri;
use docfleet_pipeline::{Error as PipelineError, Result as PipelineResult};
use docfleet_queue::{Delivery, JobQueue};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::doc_locks::DocLocks;
use super::fleet_lock::{FleetLock, Take, defer_delay};
use super::metrics::{DeadLetterReason, JobOutcomeLabel, Metrics};
use super::retry::{RetryPolicy, durably};
use super::webhooks::{Event, JobEvent, Webhooks};
use crate::app::{JobPipeline, Pipelines};
use crate::profile::{ActiveProfile, ProfileCache};

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
                    let after = until_unix_ms(lease_expires_at_ms) + Duration::from_secs(1);
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

    /// Processes the document, one job per document at a time (this worker's lock, then the
    /// fleet's), while renewing the job's lease every third of it.
    async fn process_with_heartbeat(
        &self,
        d: &Delivery,
        msg: &JobMessage,
        cancel: &CancellationToken,
    ) -> Run {
        // Under the heartbeat: the first job of a model loads it, which can take a while.
        let pipeline = match self
            .with_heartbeat(d, msg, cancel, None, self.pipeline(msg))
            .await
        {
            Ok(Ok(pipeline)) => pipeline,
            Ok(Err(e)) => return Run::Done(Err(e)),
            Err(stop) => return stop.into(),
        };
        let key = format!("{}\0{}", msg.tenant, msg.source);
        let own_jobs = self.doc_locks.lock(key);
        let _one_job_per_doc = match self.with_heartbeat(d, msg, cancel, None, own_jobs).await {
            Ok(guard) => guard,
            Err(stop) => return stop.into(),
        };
        let doc_id = docfleet_pipeline::doc::doc_id(&msg.tenant, &msg.source);
        let take = FleetLock::take(
            self.store.as_ref(),
            doc_id,
            msg.job_id,
            &self.worker_id,
            self.lease,
        );
        let lock = match self.with_heartbeat(d, msg, cancel, None, take).await {
            Ok(Ok(Take::Taken(lock))) => lock,
            Ok(Ok(Take::HeldByOther(holder))) => return Run::DocumentLocked(holder),
            Ok(Err(e)) => return Run::DocumentLockUnavailable(e),
            Err(stop) => return stop.into(),
        };
        let work = self.process(msg, &pipeline);
        let run = match self.with_heartbeat(d, msg, cancel, Some(&lock), work).await {
            Ok(result) => Run::Done(result),
            Err(stop) => stop.into(),
        };
        lock.release().await;
        run
    }

    /// Runs `work` while renewing the job's lease, and `lock` once held, every third of the
    /// lease; stops it at the drain deadline or when another worker took the job or the lock.
    async fn with_heartbeat<T>(
        &self,
        d: &Delivery,
        msg: &JobMessage,
        cancel: &CancellationToken,
        lock: Option<&FleetLock<'_>>,
        work: impl Future<Output = T>,
    ) -> Result<T, Stop> {
        tokio::pin!(work);
        let period = self.lease / 3;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                result = &mut work => return Ok(result),
                () = cancel.cancelled() => return Err(Stop::Cancelled),
                _ = beat.tick() => {
                    match self.store.extend_lease(msg.job_id, &self.worker_id, self.lease).await {
                        Ok(true) => {}
                        Ok(false) => return Err(Stop::LeaseLost),
                        // A store hiccup: the lease is long enough for the next beat to succeed.
                        Err(e) => warn!(error = %e, "could not renew the job's lease"),
                    }
                    match lock.map(FleetLock::renew) {
                        None => {}
                        Some(renew) => match renew.await {
                            Ok(true) => {}
                            Ok(false) => return Err(Stop::DocumentLockLost),
                            Err(e) => warn!(error = %e, "could not renew the document lock"),
                        },
                    }
                    if let Err(e) = self.queue.extend(d, self.lease).await {
                        debug!(error = %e, "could not extend the delivery");
                    }
                }
            }
        }
    }

    /// The job's processor, from its tenant's current profile (checked against the source).
    async fn pipeline(&self, msg: &JobMessage) -> PipelineResult<JobPipeline> {
        let profile = self.profile(&msg.tenant).await?;
        if let Some(active) = &profile
            && !active.profile.allows_source(&msg.source)
            && !self.pipelines.is_upload_of(&msg.tenant, &msg.source)
        {
            return Err(PipelineError::profile(
                format!(
                    "{} is not under the tenant's allowed source prefixes (profile v{})",
                    msg.source, active.version
                ),
                false,
            ));
        }
        self.pipelines
            .for_job(&msg.options, profile.as_deref())
            .await
    }

    /// The tenant's profile; a store failure is retryable (never "no profile").
    async fn profile(&self, tenant: &str) -> PipelineResult<Option<Arc<ActiveProfile>>> {
        self.profiles
            .get(tenant)
            .await
            .map_err(|e| PipelineError::profile(format!("{e:#}"), true))
    }

    async fn process(&self, msg: &JobMessage, pipeline: &JobPipeline) -> PipelineResult<Outcome> {
        let processor = &pipeline.processor;
        debug!(model = %pipeline.model.name, "processing");
        // Validated with the message: it parses.
        let source = SourceUri::parse(&msg.source).ok_or_else(|| {
            PipelineError::SourceNotFound(format!("{}: unsupported source", msg.source))
        })?;
        let bytes = self
            .pipelines
            .sources
            .read(&source, processor.max_file_bytes)
            .await?;
        let job = DocJob {
            tenant: msg.tenant.clone(),
            source: msg.source.clone(),
            file_name: source.file_name(),
            bytes,
            tags: msg.options.tags.clone(),
        };
        processor.process(job).await
    }

    /// After a final verdict: tells the job's `callback_url` (else its tenant profile's webhook,
    /// signed with the profile's secret when it has one), and its batch's when this was the
    /// batch's last job, in the background.
    async fn callback(
        &self,
        msg: &JobMessage,
        event: &'static str,
        counts: Option<(u64, u64)>,
        error: Option<&str>,
    ) {
        if let Some(url) = &msg.options.batch_callback_url {
            self.webhooks.batch_verdict(
                self.store.clone(),
                url.clone(),
                msg.tenant.clone(),
                msg.job_id,
            );
        }
        // A profile that cannot be read now only loses its webhook's signature override, not the
        // callback the job asked for.
        let profile = self.profiles.get(&msg.tenant).await.ok().flatten();
        let hook = profile.as_ref().map(|a| &a.profile.webhook);
        let Some(url) = msg
            .options
            .callback_url
            .as_ref()
            .or(hook.and_then(|h| h.url.as_ref()))
        else {
            return;
        };
        self.webhooks.notify(
            url.clone(),
            hook.and_then(|h| h.secret.as_deref()),
            Event::Job(JobEvent {
                event,
                job_id: msg.job_id,
                tenant: msg.tenant.clone(),
                source: msg.source.clone(),
                chunks: counts.map(|c| c.0),
                points: counts.map(|c| c.1),
                error: error.map(str::to_owned),
                at_unix_ms: docfleet_pipeline::artifacts::now_unix_millis(),
            }),
        );
    }

    async fn succeeded(&self, d: &Delivery, msg: &JobMessage, outcome: Outcome) {
        let job_id = msg.job_id;
        let (label, manifest) = match outcome {
            Outcome::Indexed(m) => {
                self.metrics
                    .document(&m.timings, m.pages, m.chunks, m.tokens);
                (JobOutcomeLabel::Succeeded, m)
            }
            Outcome::Unchanged(m) => (JobOutcomeLabel::Unchanged, m),
        };
        let t = &manifest.timings;
        let record = JobOutcome {
            timings: t
                .lanes()
                .into_iter()
                .chain([("total", t.total_ms)])
                .map(|(lane, ms)| (lane.to_owned(), ms.round() as u64))
                .collect(),
            pages: manifest.pages,
            chunks: manifest.chunks,
            points: manifest.points,
            artifacts: manifest
                .all_artifact_keys()
                .unwrap_or_else(|_| manifest.artifacts.clone()),
            profile_version: manifest.profile_version,
            pii_counts: manifest.pii.as_ref().map(|p| p.counts.clone()),
        };
        match durably(
            || self.store.succeed(job_id, &self.worker_id, &record),
            store_retryable,
        )
        .await
        {
            Ok(true) => {
                info!(doc_id = %manifest.doc_id, chunks = manifest.chunks,
                      outcome = ?label, "job succeeded");
                let counts = (manifest.chunks, manifest.points);
                self.callback(msg, "job.succeeded", Some(counts), None)
                    .await;
            }
            Ok(false) => warn!("job row no longer ours (lease taken over); the work stands"),
            Err(e) => {
                // The work is done and idempotent: the next attempt finds it complete.
                warn!(error = %e, "could not record the job's success; retrying the message");
                self.settle("retry", self.queue.retry(d, self.retry.delay(1)).await);
                self.metrics.retried();
                return;
            }
        }
        self.settle("ack", self.queue.ack(d).await);
        self.metrics.job(label);
    }

    async fn failed(&self, d: &Delivery, msg: &JobMessage, attempt: u32, e: &PipelineError) {
        let permanent = !e.is_retryable();
        let exhausted = !permanent && attempt >= self.max_attempts;
        // The reason names the document and the cause; it goes into the row and the DLQ.
        let reason = if exhausted {
            format!(
                "{}: {} (gave up after {attempt} attempts)",
                msg.source,
                e.report()
            )
        } else {
            format!("{}: {}", msg.source, e.report())
        };
        let after = self.retry.delay(attempt);
        let state = durably(
            || {
                self.store.fail(
                    msg.job_id,
                    &self.worker_id,
                    &reason,
                    permanent || exhausted,
                    after,
                )
            },
            store_retryable,
        )
        .await;
        let dead = match state {
            Ok(Some(JobState::Dead)) => true,
            Ok(Some(_)) => false,
            Ok(None) => {
                warn!(%reason, "job row no longer ours; leaving the job to its new owner");
                self.settle("ack", self.queue.ack(d).await);
                self.metrics.job(JobOutcomeLabel::LeaseLost);
                return;
            }
            // Store down: let the message decide alone (the row's lease will run out).
            Err(err) => {
                warn!(error = %err, "could not record the failure in the job store");
                permanent || exhausted
            }
        };
        if dead {
            warn!(%reason, retryable = !permanent, "job failed for good: dead-lettering");
            tracing::Span::current()
                .set_status(opentelemetry::trace::Status::error(reason.clone()));
            self.callback(msg, "job.dead", None, Some(&reason)).await;
            self.settle("dead_letter", self.queue.dead_letter(d, &reason).await);
            self.metrics.dead_lettered(if permanent {
                DeadLetterReason::Permanent
            } else {
                DeadLetterReason::AttemptsExhausted
            });
        } else {
            warn!(%reason, ?after, "attempt failed, retrying later");
            self.settle("retry", self.queue.retry(d, after).await);
            self.metrics.retried();
        }
    }

    /// Logs and counts a verdict the broker did not take. The message is not lost: the broker
    /// redelivers an unsettled message, and the job row decides what a redelivery does.
    fn settle(&self, operation: &'static str, result: docfleet_queue::Result<()>) {
        match result {
            Ok(()) => {}
            Err(docfleet_queue::Error::StaleDelivery) => {
                info!(
                    operation,
                    "delivery went stale (connection lost); the broker redelivers it"
                );
                self.metrics.queue_error(operation);
            }
            Err(e) => {
                warn!(operation, error = %e, "broker refused the verdict; the message will be redelivered");
                self.metrics.queue_error(operation);
            }
        }
    }
}

/// Time from now until `unix_ms` (zero if past). The store's clock and ours may differ a
/// little; the caller adds a margin.
pub(super) fn until_unix_ms(unix_ms: i64) -> Duration {
    let now = docfleet_pipeline::artifacts::now_unix_millis();
    let target = u64::try_from(unix_ms).unwrap_or(0);
    Duration::from_millis(target.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    //! The verdict rules of a failed attempt, against a real job store (SQLite) and the real
    //! pipeline (model and PDFium from ./scripts/setup): transient errors are retried with a
    //! delay until `max_attempts`, then dead with "gave up"; permanent errors are dead at once.
    use super::*;
    use clap::Parser;
    use docfleet_jobstore::{JobTableQueue, SqliteJobStore, StoreOptions};
    use docfleet_pipeline::job::JobOptions;

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
            pipelines: crate::app::build_pipelines(&cli.common, pipeline, None)
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
}
