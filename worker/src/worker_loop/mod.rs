//! One worker's run loop (`docfleet worker`): pulls jobs from a queue and runs them through the
//! shared lanes.
//!
//! - job/: one delivery from message to verdict (the delivery-semantics order); its processing
//!   under the heartbeat, and its verdicts.
//! - retry.rs: delays between attempts (backon) and durable settles.
//! - doc_locks.rs: one job per document at a time in a worker; fleet_lock.rs: across the
//!   fleet (a leased row per document in the job store).
//! - metrics.rs, ops.rs: `/metrics`, `/healthz`, `/readyz`.
//! - webhooks.rs: signed completion callbacks, sent in the background.
//!
//! The loop keeps at most `concurrency` jobs in flight: it asks the queue for as many deliveries
//! as there are free slots. All jobs share one set of lanes (extractor processes, one embed lane
//! that merges their chunks into batches, the index and the object store). On SIGTERM/SIGINT it
//! stops receiving, lets in-flight jobs finish within the drain timeout, then gives the rest back
//! (job row released, message released) and returns.

pub mod doc_locks;
pub mod fleet_lock;
pub mod job;
pub mod metrics;
pub mod ops;
pub mod retry;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use docfleet_queue::Delivery;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use job::JobContext;

/// How long one `receive` waits for a first delivery on a queue without a cancellable long poll
/// (and in `--exit-when-idle` runs): also how quickly the loop notices a shutdown.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// Time given to jobs cancelled at the drain deadline to release their rows and messages.
const RELEASE_GRACE: Duration = Duration::from_secs(10);
/// How often the queue depth gauge is refreshed.
const DEPTH_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub concurrency: usize,
    pub drain_timeout: Duration,
    /// Return once no job is queued or running in the job store.
    pub exit_when_idle: bool,
}

/// What the loop did, printed when the worker exits.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoopSummary {
    pub deliveries: u64,
    /// Jobs cancelled at the drain deadline and given back.
    pub released_at_shutdown: usize,
}

/// Runs until `shutdown` is cancelled (or, with `exit_when_idle`, the work is done).
pub async fn run_loop(
    ctx: Arc<JobContext>,
    opts: &LoopOptions,
    shutdown: CancellationToken,
) -> LoopSummary {
    let concurrency = opts.concurrency.max(1);
    let cancel_jobs = CancellationToken::new();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut summary = LoopSummary::default();
    let mut receive_failures = 0u32;
    let depth = tokio::spawn(refresh_depth(ctx.clone(), shutdown.clone()));

    while !shutdown.is_cancelled() {
        while let Some(done) = tasks.try_join_next() {
            log_join(done);
        }
        let free = concurrency - tasks.len();
        if free == 0 {
            tokio::select! {
                done = tasks.join_next() => if let Some(done) = done { log_join(done) },
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        let long_poll = ctx.queue.long_poll().filter(|_| !opts.exit_when_idle);
        let received = match long_poll {
            Some(wait) => tokio::select! {
                r = ctx.queue.receive(free, wait) => r,
                () = shutdown.cancelled() => break,
            },
            None => ctx.queue.receive(free, RECEIVE_WAIT).await,
        };
        let deliveries: Vec<Delivery> = match received {
            Ok(d) => {
                receive_failures = 0;
                d
            }
            Err(e) => {
                receive_failures += 1;
                ctx.metrics.queue_error("receive");
                let pause = ctx
                    .retry
                    .delay(receive_failures)
                    .min(Duration::from_secs(30));
                warn!(error = %e, ?pause, "receiving from the queue failed");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
        };
        let got_none = deliveries.is_empty();
        for d in deliveries {
            summary.deliveries += 1;
            tasks.spawn(ctx.clone().handle(d, cancel_jobs.clone()));
        }
        if opts.exit_when_idle && got_none && tasks.is_empty() && nothing_pending(&ctx).await {
            info!("no job queued or running: exiting (--exit-when-idle)");
            break;
        }
    }
    depth.abort();
    release_prefetched(&ctx).await;

    if !tasks.is_empty() {
        info!(in_flight = tasks.len(), drain_timeout = ?opts.drain_timeout,
              "stopped receiving; draining in-flight jobs");
    }
    let drained = tokio::time::timeout(opts.drain_timeout, join_all(&mut tasks)).await;
    if drained.is_err() {
        summary.released_at_shutdown = tasks.len();
        warn!(
            jobs = tasks.len(),
            "drain timeout reached: giving the remaining jobs back"
        );
        cancel_jobs.cancel();
        let released = tokio::time::timeout(RELEASE_GRACE, join_all(&mut tasks)).await;
        if released.is_err() {
            // Their leases run out and the broker redelivers their messages when we disconnect.
            warn!(
                jobs = tasks.len(),
                "jobs did not release in time; abandoning them"
            );
            tasks.abort_all();
        }
    }
    summary
}

/// Gives back what the broker had sent ahead (prefetch) and the loop had not started.
async fn release_prefetched(ctx: &JobContext) {
    match ctx.queue.stop_consuming().await {
        Ok(prefetched) => {
            for d in &prefetched {
                if let Err(e) = ctx.queue.release(d).await {
                    warn!(error = %e, "releasing a prefetched delivery; the broker redelivers it");
                }
            }
            if !prefetched.is_empty() {
                info!(count = prefetched.len(), "released prefetched deliveries");
            }
        }
        Err(e) => warn!(error = %e, "stopping the consumer; the broker redelivers what it sent"),
    }
}

/// Waits for every task, logging panics.
async fn join_all(tasks: &mut JoinSet<()>) {
    while let Some(done) = tasks.join_next().await {
        log_join(done);
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        // A bug, not a document problem: the message stays unsettled and is redelivered.
        tracing::error!(error = %e, "a job task panicked");
    }
}

/// True when the job store has nothing queued or running (any tenant).
async fn nothing_pending(ctx: &JobContext) -> bool {
    match ctx.store.counts_by_state(None).await {
        Ok(c) => c.queued + c.failed + c.running == 0,
        Err(e) => {
            warn!(error = %e, "counting jobs");
            false
        }
    }
}

/// Keeps the queue depth gauges fresh (what the worker sees is what KEDA scales on).
async fn refresh_depth(ctx: Arc<JobContext>, stop: CancellationToken) {
    loop {
        match ctx.queue.depth().await {
            Ok(d) => ctx.metrics.queue_depth(d.ready, d.unacked),
            Err(e) => {
                ctx.metrics.queue_depth(None, None);
                tracing::debug!(error = %e, "reading the queue depth");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(DEPTH_EVERY) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Cancels the token on the first SIGTERM or SIGINT.
pub fn cancel_on_signal(token: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(signal = name, "shutting down");
        eprintln!("docfleet worker: {name}, draining");
        token.cancel();
    });
    Ok(())
}
