//! Opens the job store and the queue named by the options.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_jobstore::{JobStore, JobTableQueue, StoreOptions};
use docfleet_queue::kafka::{KafkaConfig, KafkaProducer, KafkaQueue, parse_properties};
use docfleet_queue::rabbitmq::{RabbitConfig, RabbitQueue};
use docfleet_queue::sqs::{SqsConfig, SqsQueue};
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

/// SQS settings; `visibility` is the worker's lease (renewed by its heartbeat).
pub fn sqs_config(opts: &QueueOpts, region: Option<&str>, visibility: Duration) -> SqsConfig {
    let mut cfg = SqsConfig::new(&opts.queue_name);
    cfg.endpoint_url = opts.sqs_endpoint_url.clone();
    cfg.region = region.map(str::to_owned);
    cfg.visibility_timeout = visibility;
    cfg.max_receive_count = opts.sqs_max_receive_count;
    cfg
}

/// Kafka settings; `max_in_flight` is the worker's concurrency (partitions pause beyond it).
pub fn kafka_config(opts: &QueueOpts, max_in_flight: usize) -> Result<KafkaConfig> {
    let mut cfg = KafkaConfig::new(&opts.kafka_bootstrap_servers, &opts.queue_name);
    cfg.group_id = opts.kafka_group_id.clone();
    cfg.partitions = opts.kafka_partitions;
    cfg.replication_factor = opts.kafka_replication_factor;
    cfg.session_timeout = Duration::from_millis(opts.kafka_session_timeout_ms);
    cfg.max_in_flight = max_in_flight.max(1);
    cfg.properties = parse_properties(&opts.kafka_properties)?;
    Ok(cfg)
}

async fn sqs_queue(
    opts: &QueueOpts,
    region: Option<&str>,
    visibility: Duration,
) -> Result<SqsQueue> {
    SqsQueue::connect(sqs_config(opts, region, visibility))
        .await
        .with_context(|| format!("opening SQS queue {}", opts.queue_name))
}

/// The consuming side, for `docfleet worker`.
pub async fn job_queue(
    opts: &QueueOpts,
    region: Option<&str>,
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
        QueueKind::Sqs => Arc::new(sqs_queue(opts, region, lease).await?),
        QueueKind::Kafka => Arc::new(
            KafkaQueue::connect(kafka_config(opts, prefetch)?).with_context(|| {
                format!(
                    "joining Kafka group {} at {}",
                    opts.kafka_group_id, opts.kafka_bootstrap_servers
                )
            })?,
        ),
    })
}

/// The submitting side, for `docfleet enqueue`: `None` for the local queue, whose job rows are
/// the queue.
pub async fn job_producer(
    opts: &QueueOpts,
    region: Option<&str>,
) -> Result<Option<Arc<dyn JobProducer>>> {
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
        QueueKind::Sqs => Some(Arc::new(
            sqs_queue(opts, region, Duration::from_secs(60)).await?,
        )),
        QueueKind::Kafka => Some(Arc::new(
            KafkaProducer::connect(kafka_config(opts, 1)?)
                .with_context(|| format!("Kafka producer for {}", opts.kafka_bootstrap_servers))?,
        )),
    })
}

/// `docfleet queues init`: creates the queue and its dead-letter queue (SQS: with the redrive
/// policy; RabbitMQ: the whole topology), idempotently. The local queue needs nothing.
pub async fn init_queues(
    opts: &QueueOpts,
    region: Option<&str>,
    lease: Duration,
) -> Result<&'static str> {
    match opts.kind {
        QueueKind::Local => Ok("the local queue is the job table: nothing to create"),
        QueueKind::Rabbitmq => {
            let cfg = rabbit_config(opts, 1, "docfleet queues init");
            let q = RabbitQueue::connect_producer(cfg)
                .await
                .with_context(|| format!("connecting to RabbitMQ at {}", redact(&opts.amqp_url)))?;
            q.close().await;
            Ok("RabbitMQ queue, dead-letter exchange and queue declared")
        }
        QueueKind::Sqs => {
            SqsQueue::create_queues(&sqs_config(opts, region, lease))
                .await
                .with_context(|| format!("creating SQS queues for {}", opts.queue_name))?;
            Ok("SQS queue and dead-letter queue (with redrive policy) created")
        }
        QueueKind::Kafka => {
            docfleet_queue::kafka::create_topics(&kafka_config(opts, 1)?)
                .await
                .with_context(|| format!("creating Kafka topics for {}", opts.queue_name))?;
            Ok("Kafka topics created: jobs, .retry and .dlq")
        }
    }
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
