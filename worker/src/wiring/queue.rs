//! The queue of the options (`--queue`): its consuming side for the worker, its submitting side
//! for enqueue, redrive and the API, and `docfleet queues init`. The local queue is the job
//! table itself; the brokers' settings come from their typed options (`RabbitmqOpts::config`, …).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_jobstore::{JobStore, JobTableQueue};
use docfleet_queue::kafka::{KafkaProducer, KafkaQueue};
use docfleet_queue::rabbitmq::RabbitQueue;
use docfleet_queue::sqs::SqsQueue;
use docfleet_queue::{JobProducer, JobQueue};

use crate::settings::{QueueKind, QueueOpts, redact};

/// What the consuming side needs to know about the worker.
pub struct ConsumerOptions<'a> {
    pub worker_id: &'a str,
    /// The job's lease: the job table's claim, SQS's visibility timeout.
    pub lease: Duration,
    /// How often the job-table queue looks for new jobs.
    pub poll_interval: Duration,
    /// Deliveries in flight at once (the worker's concurrency).
    pub prefetch: usize,
}

/// The consuming side, for `docfleet worker`; `store` is the job-table queue's table.
pub async fn open_consumer(
    opts: &QueueOpts,
    region: Option<&str>,
    store: Arc<dyn JobStore>,
    worker: &ConsumerOptions<'_>,
) -> Result<Arc<dyn JobQueue>> {
    let name = &opts.queue_name;
    Ok(match opts.kind {
        QueueKind::Local => Arc::new(JobTableQueue::new(
            store,
            worker.worker_id,
            worker.lease,
            worker.poll_interval,
        )),
        QueueKind::Rabbitmq => {
            let connection = format!("docfleet worker {}", worker.worker_id);
            let cfg = opts.rabbitmq.config(name, worker.prefetch, &connection);
            Arc::new(
                RabbitQueue::connect(cfg)
                    .await
                    .with_context(|| rabbit_at(opts))?,
            )
        }
        QueueKind::Sqs => Arc::new(open_sqs(opts, region, worker.lease).await?),
        QueueKind::Kafka => Arc::new(
            KafkaQueue::connect(opts.kafka.config(name, worker.prefetch)?).with_context(|| {
                format!(
                    "joining Kafka group {} at {}",
                    opts.kafka.kafka_group_id, opts.kafka.kafka_bootstrap_servers
                )
            })?,
        ),
    })
}

/// The submitting side, for `docfleet enqueue`, `redrive` and the API: `None` for the local
/// queue, whose job rows are the queue.
pub async fn open_producer(
    opts: &QueueOpts,
    region: Option<&str>,
) -> Result<Option<Arc<dyn JobProducer>>> {
    let name = &opts.queue_name;
    Ok(match opts.kind {
        QueueKind::Local => None,
        QueueKind::Rabbitmq => {
            let cfg = opts.rabbitmq.config(name, 1, "docfleet enqueue");
            Some(Arc::new(
                RabbitQueue::connect_producer(cfg)
                    .await
                    .with_context(|| rabbit_at(opts))?,
            ))
        }
        QueueKind::Sqs => Some(Arc::new(
            open_sqs(opts, region, Duration::from_secs(60)).await?,
        )),
        QueueKind::Kafka => Some(Arc::new(
            KafkaProducer::connect(opts.kafka.config(name, 1)?).with_context(|| {
                format!("Kafka producer for {}", opts.kafka.kafka_bootstrap_servers)
            })?,
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
    let name = &opts.queue_name;
    match opts.kind {
        QueueKind::Local => Ok("the local queue is the job table: nothing to create"),
        QueueKind::Rabbitmq => {
            let cfg = opts.rabbitmq.config(name, 1, "docfleet queues init");
            let q = RabbitQueue::connect_producer(cfg)
                .await
                .with_context(|| rabbit_at(opts))?;
            q.close().await;
            Ok("RabbitMQ queue, dead-letter exchange and queue declared")
        }
        QueueKind::Sqs => {
            SqsQueue::create_queues(&opts.sqs.config(name, region, lease))
                .await
                .with_context(|| format!("creating SQS queues for {name}"))?;
            Ok("SQS queue and dead-letter queue (with redrive policy) created")
        }
        QueueKind::Kafka => {
            docfleet_queue::kafka::create_topics(&opts.kafka.config(name, 1)?)
                .await
                .with_context(|| format!("creating Kafka topics for {name}"))?;
            Ok("Kafka topics created: jobs, .retry and .dlq")
        }
    }
}

async fn open_sqs(
    opts: &QueueOpts,
    region: Option<&str>,
    visibility: Duration,
) -> Result<SqsQueue> {
    SqsQueue::connect(opts.sqs.config(&opts.queue_name, region, visibility))
        .await
        .with_context(|| format!("opening SQS queue {}", opts.queue_name))
}

fn rabbit_at(opts: &QueueOpts) -> String {
    format!(
        "connecting to RabbitMQ at {}",
        redact(&opts.rabbitmq.amqp_url)
    )
}
