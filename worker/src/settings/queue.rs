//! Which queue carries the jobs, and each broker's options: RabbitMQ, SQS, Kafka (the local
//! queue is the job table and has none). Each broker's options convert to its adapter's config
//! here, once; `crate::wiring::queue` opens the chosen one.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use docfleet_queue::kafka::{KafkaConfig, parse_properties};
use docfleet_queue::rabbitmq::RabbitConfig;
use docfleet_queue::sqs::SqsConfig;
use serde::Serialize;

/// Which queue carries the jobs.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// The job table itself (no broker): SQLite by default, or PostgreSQL.
    Local,
    /// RabbitMQ (quorum queue, dead-letter queue, delay queues for retries).
    Rabbitmq,
    /// Amazon SQS (or an SQS-compatible server): queue + `<name>-dlq` with a redrive policy.
    Sqs,
    /// Kafka: the jobs topic `<name>`, `<name>.retry` (delayed retries) and `<name>.dlq`.
    Kafka,
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Local => "local",
            QueueKind::Rabbitmq => "rabbitmq",
            QueueKind::Sqs => "sqs",
            QueueKind::Kafka => "kafka",
        }
    }
}

/// Which queue, and how to reach it.
#[derive(Args, Debug, Clone, Serialize)]
pub struct QueueOpts {
    /// Queue kind.
    #[arg(
        long = "queue",
        env = "DOCFLEET_QUEUE",
        value_enum,
        default_value = "local"
    )]
    pub kind: QueueKind,
    /// Queue name (RabbitMQ derives <name>.dlq, <name>.dlx and <name>.retry.<ms> from it).
    #[arg(long, env = "DOCFLEET_QUEUE_NAME", default_value = "docfleet.jobs")]
    pub queue_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub rabbitmq: RabbitmqOpts,
    #[command(flatten)]
    #[serde(flatten)]
    pub sqs: SqsOpts,
    #[command(flatten)]
    #[serde(flatten)]
    pub kafka: KafkaOpts,
}

/// RabbitMQ (`--queue rabbitmq`).
#[derive(Args, Debug, Clone, Serialize)]
pub struct RabbitmqOpts {
    /// RabbitMQ URL (amqp://user:pass@host:port/vhost, vhost URL-encoded).
    #[arg(long, env = "DOCFLEET_AMQP_URL", default_value = docfleet_queue::rabbitmq::DEFAULT_AMQP_URL)]
    #[serde(serialize_with = "super::secrets::url_without_password")]
    pub amqp_url: String,
    /// RabbitMQ `x-delivery-limit`: deliveries without a verdict (crashed worker, lost
    /// connection) before the broker dead-letters a message. Fixed when the queue is created.
    #[arg(long, env = "DOCFLEET_DELIVERY_LIMIT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub delivery_limit: u32,
    /// The broker's consumer_timeout (rabbitmq.conf): a job must finish within it.
    #[arg(
        long,
        env = "DOCFLEET_RABBITMQ_CONSUMER_TIMEOUT_SECS",
        default_value_t = 1800
    )]
    pub rabbitmq_consumer_timeout_secs: u64,
}

impl RabbitmqOpts {
    /// `prefetch`: deliveries in flight at once (the worker's concurrency); `connection_name`:
    /// who this connection is in the broker's UI.
    pub fn config(&self, queue_name: &str, prefetch: usize, connection_name: &str) -> RabbitConfig {
        let mut cfg = RabbitConfig::new(
            &self.amqp_url,
            queue_name,
            u16::try_from(prefetch.max(1)).unwrap_or(u16::MAX),
        );
        cfg.delivery_limit = self.delivery_limit;
        cfg.consumer_timeout = Duration::from_secs(self.rabbitmq_consumer_timeout_secs);
        cfg.connection_name = connection_name.to_owned();
        cfg
    }
}

/// Amazon SQS or an SQS-compatible server (`--queue sqs`); the region is `--aws-region`.
#[derive(Args, Debug, Clone, Serialize)]
pub struct SqsOpts {
    /// SQS endpoint override (moto, LocalStack, ElasticMQ). Default: AWS's (or AWS_ENDPOINT_URL).
    #[arg(long, env = "DOCFLEET_SQS_ENDPOINT_URL")]
    pub sqs_endpoint_url: Option<String>,
    /// SQS redrive maxReceiveCount set by `docfleet queues init`: receives (each retry is one;
    /// deferrals and releases are not) before SQS moves a message to `<name>-dlq` itself. Keep it
    /// at least max_attempts, so the runtime dead-letters with the reason first.
    #[arg(long, env = "DOCFLEET_SQS_MAX_RECEIVE_COUNT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sqs_max_receive_count: u32,
}

impl SqsOpts {
    /// `visibility` is the worker's lease (renewed by its heartbeat).
    pub fn config(
        &self,
        queue_name: &str,
        region: Option<&str>,
        visibility: Duration,
    ) -> SqsConfig {
        let mut cfg = SqsConfig::new(queue_name);
        cfg.endpoint_url = self.sqs_endpoint_url.clone();
        cfg.region = region.map(str::to_owned);
        cfg.visibility_timeout = visibility;
        cfg.max_receive_count = self.sqs_max_receive_count;
        cfg
    }
}

/// Kafka (`--queue kafka`).
#[derive(Args, Debug, Clone, Serialize)]
pub struct KafkaOpts {
    /// Kafka bootstrap servers (host:port,…).
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_bootstrap_servers: String,
    /// Kafka consumer group of the workers.
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_GROUP_ID",
        default_value = "docfleet-workers"
    )]
    pub kafka_group_id: String,
    /// Partitions of the topics `docfleet queues init` creates: the most workers that share
    /// the jobs at once.
    #[arg(long, env = "DOCFLEET_KAFKA_PARTITIONS", default_value_t = 12,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_partitions: i32,
    /// Replication factor of the topics `docfleet queues init` creates (3 on a production
    /// cluster).
    #[arg(long, env = "DOCFLEET_KAFKA_REPLICATION_FACTOR", default_value_t = 1,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_replication_factor: i32,
    /// A worker that stops heartbeating for this long loses its partitions to the others.
    #[arg(
        long,
        env = "DOCFLEET_KAFKA_SESSION_TIMEOUT_MS",
        default_value_t = 45_000
    )]
    pub kafka_session_timeout_ms: u64,
    /// Extra librdkafka properties, `key=value` separated by commas (e.g.
    /// `security.protocol=SASL_SSL,sasl.mechanism=SCRAM-SHA-512`); secrets are better given as
    /// `DOCFLEET_KAFKA_PROPERTIES` than as a flag.
    #[arg(long, env = "DOCFLEET_KAFKA_PROPERTIES", default_value = "")]
    #[serde(serialize_with = "super::secrets::secret_properties")]
    pub kafka_properties: String,
}

impl KafkaOpts {
    /// `max_in_flight` is the worker's concurrency (partitions pause beyond it).
    pub fn config(&self, queue_name: &str, max_in_flight: usize) -> Result<KafkaConfig> {
        let mut cfg = KafkaConfig::new(&self.kafka_bootstrap_servers, queue_name);
        cfg.group_id = self.kafka_group_id.clone();
        cfg.partitions = self.kafka_partitions;
        cfg.replication_factor = self.kafka_replication_factor;
        cfg.session_timeout = Duration::from_millis(self.kafka_session_timeout_ms);
        cfg.max_in_flight = max_in_flight.max(1);
        cfg.properties = parse_properties(&self.kafka_properties)?;
        Ok(cfg)
    }
}
