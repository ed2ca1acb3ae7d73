//! The work of a started job, under its heartbeat: the tenant's profile and model, one job per
//! document at a time (this worker's lock, then the fleet's), and the processing itself, while
//! the job's lease (and the document lock, once held) is renewed every third of the lease.

use std::sync::Arc;

use docfleet_core::job::JobMessage;
use docfleet_core::source::SourceUri;
use docfleet_pipeline::process::{DocJob, Outcome};
use docfleet_pipeline::{Error as PipelineError, Result as PipelineResult};
use docfleet_queue::Delivery;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{JobContext, Run, Stop};
use crate::profile::ActiveProfile;
use crate::wiring::JobPipeline;
use crate::worker_loop::fleet_lock::{FleetLock, Take};

impl JobContext {
    /// Processes the document, one job per document at a time (this worker's lock, then the
    /// fleet's), while renewing the job's lease every third of it.
    pub(super) async fn process_with_heartbeat(
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
}
