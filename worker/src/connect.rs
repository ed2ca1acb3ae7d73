//! Opens the job store and the queue named by the options.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_jobstore::{JobStore, JobTableQueue, StoreOptions};
use docfleet_queue::rabbitmq::{RabbitConfig, RabbitQueue};
use docfleet_queue::{JobProducer, JobQueue};

use crate::settings::{CommonOpts, QueueKind, QueueOpts, StoreOpts};

pub async fn job_store(common: &CommonOpts, opts: &StoreOpts) -> Result<Arc<dyn JobStore>> {
    let url = opts.url(common);
    if opts.job_store_url.is_none() {
        std::fs::create_dir_all(&common.data_dir)
            .with_context(|| format!("creating {}", common.data_dir.display()))?;
    }
    let options = StoreOptions {
        max_attempts: opts.max_attempts,
        ..StoreOptions::default()
    };
    docfleet_jobstore::connect_with(&url, &options)
        .await
        .with_context(|| format!("opening the job store {}", redact(&url)))
}

fn rabbit_config(opts: &QueueOpts, prefetch: usize, name: &str) -> RabbitConfig {
    let mut cfg = RabbitConfig::new(
        &opts.amqp_url,
        &opts.queue_name,
        u16::try_from(prefetch.max(1)).unwrap_or(u16::MAX),
    );
    cfg.delivery_limit = opts.delivery_limit;
    cfg.consumer_timeout = Duration::from_secs(opts.rabbitmq_consumer_timeout_secs);
    cfg.connection_name = name.to_owned();
    cfg
}

/// The consuming side, for `docfleet worker`.
pub async fn job_queue(
    opts: &QueueOpts,
    store: Arc<dyn JobStore>,
    worker_id: &str,
    lease: Duration,
    poll_interval: Duration,
    prefetch: usize,
) -> Result<Arc<dyn JobQueue>> {
    Ok(match opts.kind {
        QueueKind::Local => Arc::new(JobTableQueue::new(store, worker_id, lease, poll_interval)),
        QueueKind::Rabbitmq => {
            let cfg = rabbit_config(opts, prefetch, &format!("docfleet worker {worker_id}"));
            Arc::new(
                RabbitQueue::connect(cfg).await.with_context(|| {
                    format!("connecting to RabbitMQ at {}", redact(&opts.amqp_url))
                })?,
            )
        }
    })
}

/// The submitting side, for `docfleet enqueue`: `None` for the local queue, whose job rows are
/// the queue.
pub async fn job_producer(opts: &QueueOpts) -> Result<Option<Arc<dyn JobProducer>>> {
    Ok(match opts.kind {
        QueueKind::Local => None,
        QueueKind::Rabbitmq => {
            let cfg = rabbit_config(opts, 1, "docfleet enqueue");
            Some(Arc::new(
                RabbitQueue::connect_producer(cfg).await.with_context(|| {
                    format!("connecting to RabbitMQ at {}", redact(&opts.amqp_url))
                })?,
            ))
        }
    })
}

/// A URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("/tmp/jobs.sqlite"), "/tmp/jobs.sqlite");
    }
}
