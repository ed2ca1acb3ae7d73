//! `docfleet worker`: the queue consumer (the run loop is `crate::worker_loop`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use docfleet_pipeline::embed_lane::EmbedCallObserver;
use tokio_util::sync::CancellationToken;

use crate::profile::ProfileCache;
use crate::settings::{CommonOpts, PipelineOpts, QueueOpts, StoreOpts, WorkerOpts};
use crate::wiring::{self, ConsumerOptions};
use crate::worker_loop::doc_locks::DocLocks;
use crate::worker_loop::metrics::Metrics;
use crate::worker_loop::ops::{self, OpsState};
use crate::worker_loop::retry::RetryPolicy;
use crate::worker_loop::webhooks::Webhooks;
use crate::worker_loop::{JobContext, LoopOptions, cancel_on_signal, run_loop};

/// `<hostname>-<pid>`: unique per process, recognisable in `docfleet jobs` and the broker UI.
fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "docfleet".to_owned());
    format!("{host}-{}", std::process::id())
}

pub async fn worker(
    common: &CommonOpts,
    pipeline: &PipelineOpts,
    store_opts: &StoreOpts,
    queue_opts: &QueueOpts,
    opts: &WorkerOpts,
) -> Result<()> {
    let worker_id = opts.worker_id.clone().unwrap_or_else(default_worker_id);
    let lease = Duration::from_secs(opts.lease_secs);
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone())?;

    let metrics = Metrics::new();
    let store = wiring::open_job_store(common, store_opts).await?;
    let consumer = ConsumerOptions {
        worker_id: &worker_id,
        lease,
        poll_interval: Duration::from_millis(opts.poll_interval_ms),
        prefetch: pipeline.concurrency,
    };
    let region = common.storage.aws_region.as_deref();
    let queue = wiring::open_consumer(queue_opts, region, store.clone(), &consumer).await?;
    let observer: Arc<dyn EmbedCallObserver> = metrics.clone();
    let pipelines = wiring::build_pipelines(common, pipeline, Some(observer)).await?;

    let stop_ops = CancellationToken::new();
    let ops_task = if opts.ops_addr == "off" {
        None
    } else {
        let state = OpsState {
            store: store.clone(),
            queue: queue.clone(),
            metrics: metrics.clone(),
            draining: shutdown.clone(),
        };
        let (addr, task) = ops::serve(&opts.ops_addr, state, stop_ops.clone()).await?;
        eprintln!("docfleet worker {worker_id}: ops endpoints on http://{addr}");
        Some(task)
    };
    eprintln!(
        "docfleet worker {worker_id}: consuming from the {} queue, concurrency {}",
        queue_opts.kind.as_str(),
        pipeline.concurrency
    );

    let retry = RetryPolicy {
        min_delay: Duration::from_secs(opts.retry_min_delay_secs),
        max_delay: Duration::from_secs(opts.retry_max_delay_secs.max(opts.retry_min_delay_secs)),
    };
    let webhooks = Webhooks::new(
        opts.webhook_secret.as_deref(),
        opts.webhook_max_attempts,
        retry,
    )?;
    let ctx = Arc::new(JobContext {
        queue: queue.clone(),
        store: store.clone(),
        pipelines,
        metrics,
        worker_id: worker_id.clone(),
        lease,
        max_attempts: store_opts.max_attempts,
        retry,
        doc_locks: DocLocks::default(),
        webhooks,
        profiles: Arc::new(ProfileCache::new(
            store.clone(),
            Duration::from_secs(common.profile_ttl_secs),
        )),
    });
    let loop_opts = LoopOptions {
        concurrency: pipeline.concurrency,
        drain_timeout: Duration::from_secs(opts.drain_timeout_secs),
        exit_when_idle: opts.exit_when_idle,
    };
    let summary = run_loop(ctx.clone(), &loop_opts, shutdown).await;
    queue.close().await;
    ctx.webhooks.drain(loop_opts.drain_timeout).await;
    stop_ops.cancel();
    if let Some(task) = ops_task {
        let _ = task.await;
    }
    store.close().await;
    eprintln!(
        "docfleet worker {worker_id}: stopped after {} deliveries ({} given back at shutdown)",
        summary.deliveries, summary.released_at_shutdown
    );
    Ok(())
}
