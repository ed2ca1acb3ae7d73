//! A processed job's verdict: success recorded and acknowledged; a failure retried later or
//! dead-lettered (permanent, or out of attempts); the callbacks; and what happens when the
//! broker does not take a verdict.

use docfleet_core::job::JobMessage;
use docfleet_jobstore::{JobOutcome, JobState};
use docfleet_pipeline::Error as PipelineError;
use docfleet_pipeline::process::Outcome;
use docfleet_queue::Delivery;
use tracing::{info, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{JobContext, store_retryable};
use crate::worker_loop::metrics::{DeadLetterReason, JobOutcomeLabel};
use crate::worker_loop::retry::durably;
use crate::worker_loop::webhooks::{Event, JobEvent};

impl JobContext {
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
                at_unix_ms: docfleet_core::time::now_unix_millis(),
            }),
        );
    }

    pub(super) async fn succeeded(&self, d: &Delivery, msg: &JobMessage, outcome: Outcome) {
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

    pub(super) async fn failed(
        &self,
        d: &Delivery,
        msg: &JobMessage,
        attempt: u32,
        e: &PipelineError,
    ) {
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
    pub(super) fn settle(&self, operation: &'static str, result: docfleet_queue::Result<()>) {
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
