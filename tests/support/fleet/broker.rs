//! The broker side of a test fleet: queue depths, drained queues and dead letters, malformed
//! messages, connections cut as a restart would.

use std::process::Command;
use std::time::{Duration, Instant};

use super::super::aws::{aws_endpoint, aws_region};
use super::super::{block_on, command_stdout};
use super::{Fleet, KAFKA_PARTITIONS, Kind, psql};

fn rabbitmqctl(args: &[&str]) -> String {
    let mut cmd = Command::new("rabbitmqctl");
    cmd.args(args);
    command_stdout(cmd, &format!("rabbitmqctl {args:?}"))
}

impl Fleet {
    /// (ready, unacked) of a RabbitMQ queue of this fleet, by name suffix ("" or ".dlq").
    pub fn rabbit_depth(&self, suffix: &str) -> (u64, u64) {
        let name = format!("{}{suffix}", self.queue_name);
        let listing = rabbitmqctl(&[
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ]);
        for line in listing.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.first() == Some(&name.as_str()) {
                return (cols[1].parse().unwrap(), cols[2].parse().unwrap());
            }
        }
        panic!("queue {name} not found in\n{listing}");
    }

    /// With a broker: the job queue is empty and the dead-letter queue holds `dead` messages.
    /// (The job table's rows are checked by the tests themselves.)
    pub fn assert_broker_drained(&self, dead: u64) {
        match self.kind {
            Kind::Rabbitmq => self.assert_rabbit_drained(dead),
            Kind::Sqs => self.assert_sqs_drained(dead),
            Kind::Kafka => self.assert_kafka_drained(dead),
            Kind::LocalSqlite | Kind::LocalPostgres => {}
        }
    }

    fn kafka_config(&self) -> docfleet_queue::kafka::KafkaConfig {
        let cluster = self.kafka.as_ref().unwrap();
        let mut cfg =
            docfleet_queue::kafka::KafkaConfig::new(cluster.bootstrap_servers(), &self.queue_name);
        cfg.group_id = format!("{}-workers", self.queue_name);
        cfg
    }

    /// The group has committed everything on the jobs and retry topics (the workers have
    /// exited), and the dead-letter topic holds `dead` messages.
    fn assert_kafka_drained(&self, dead: u64) {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let cfg = self.kafka_config();
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &cfg.bootstrap_servers)
            .set("group.id", &cfg.group_id)
            .create()
            .unwrap();
        let timeout = Duration::from_secs(5);
        let messages = |topic: &str, p: i32| {
            let (low, high) = c.fetch_watermarks(topic, p, timeout).unwrap();
            (low, high)
        };
        for topic in [cfg.topic.clone(), cfg.retry_topic()] {
            let mut tpl = rdkafka::TopicPartitionList::new();
            tpl.add_partition_range(&topic, 0, KAFKA_PARTITIONS - 1);
            let committed = c.committed_offsets(tpl, timeout).unwrap();
            for p in 0..KAFKA_PARTITIONS {
                let (low, high) = messages(&topic, p);
                let at = match committed.find_partition(&topic, p).unwrap().offset() {
                    rdkafka::Offset::Offset(o) => o,
                    _ => low,
                };
                assert_eq!(
                    at, high,
                    "{topic}[{p}]: committed {at} of {high}: work left"
                );
            }
        }
        let dlq: i64 = (0..KAFKA_PARTITIONS)
            .map(|p| {
                let (low, high) = messages(&cfg.dlq_topic(), p);
                high - low
            })
            .sum();
        assert_eq!(dlq as u64, dead, "Kafka dead-letter topic");
    }

    fn sqs(&self) -> docfleet_queue::sqs::SqsQueue {
        let mut cfg = docfleet_queue::sqs::SqsConfig::new(&self.queue_name);
        cfg.endpoint_url = Some(aws_endpoint());
        cfg.region = Some(aws_region());
        block_on(docfleet_queue::sqs::SqsQueue::connect(cfg)).unwrap()
    }

    fn assert_sqs_drained(&self, dead: u64) {
        use docfleet_queue::JobQueue;
        let q = self.sqs();
        let depth = block_on(q.depth()).unwrap();
        assert_eq!(
            (depth.ready, depth.unacked),
            (Some(0), Some(0)),
            "SQS job queue empty"
        );
        let dlq = block_on(q.dead_letter_depth()).unwrap();
        assert_eq!(dlq.ready, Some(dead), "SQS dead-letter queue");
    }

    /// Publishes a body that is not a job message.
    pub fn publish_malformed(&self) {
        let body = b"{\"version\": 1, \"job_id\": \"not-a-uuid\"}";
        match self.kind {
            Kind::Sqs => block_on(self.sqs().publish_raw(body)).unwrap(),
            Kind::Kafka => block_on(async {
                let p = docfleet_queue::kafka::KafkaProducer::connect(self.kafka_config()).unwrap();
                p.publish_raw(body).await.unwrap();
            }),
            Kind::Rabbitmq => block_on(async {
                use docfleet_queue::rabbitmq::{DEFAULT_AMQP_URL, RabbitConfig, RabbitQueue};
                let url =
                    std::env::var("DOCFLEET_TEST_AMQP_URL").unwrap_or(DEFAULT_AMQP_URL.into());
                let cfg = RabbitConfig::new(url, &self.queue_name, 1);
                let q = RabbitQueue::connect_producer(cfg).await.unwrap();
                q.publish_raw(body, None).await.unwrap();
                q.close().await;
            }),
            Kind::LocalSqlite | Kind::LocalPostgres => {
                panic!("the job table only holds validated messages")
            }
        }
    }

    fn assert_rabbit_drained(&self, dead: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.rabbit_depth("") != (0, 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(
            self.rabbit_depth(""),
            (0, 0),
            "job queue not empty; channels:\n{}",
            rabbitmqctl(&[
                "list_channels",
                "name",
                "messages_unacknowledged",
                "consumer_count"
            ])
        );
        // Dead-lettering out of a quorum queue is asynchronous: wait for it too.
        while self.rabbit_depth(".dlq").0 != dead && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(self.rabbit_depth(".dlq").0, dead, "dead-letter queue");
    }

    /// Deletes this fleet's RabbitMQ queues (best effort: it runs when the fleet is dropped).
    pub(super) fn delete_rabbit_queues(&self) {
        let Ok(out) = Command::new("rabbitmqctl")
            .args(["list_queues", "-q", "--no-table-headers", "name"])
            .output()
        else {
            return;
        };
        for q in String::from_utf8_lossy(&out.stdout).lines() {
            let q = q.trim();
            if q.starts_with(&self.queue_name) {
                let _ = Command::new("rabbitmqctl")
                    .args(["delete_queue", q])
                    .output();
            }
        }
    }

    /// Drops every connection of the store (PostgreSQL) or the broker (RabbitMQ) from the
    /// server's side, as a restart would. Returns how many were dropped.
    pub fn cut_connections(&self) -> usize {
        match (self.kind, &self.postgres_db) {
            (Kind::Rabbitmq, _) => {
                let listing = rabbitmqctl(&[
                    "list_connections",
                    "-q",
                    "--no-table-headers",
                    "pid",
                    "client_properties",
                ]);
                let mut closed = 0;
                for line in listing
                    .lines()
                    .filter(|l| l.contains("docfleet worker e2e-"))
                {
                    let pid = line.split_whitespace().next().unwrap();
                    rabbitmqctl(&["close_connection", pid, "docfleet e2e: broker restart"]);
                    closed += 1;
                }
                closed
            }
            (_, Some((admin, db))) => psql(
                admin,
                &format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = '{db}' AND pid <> pg_backend_pid()"
                ),
            )
            .trim()
            .parse()
            .unwrap(),
            _ => 0,
        }
    }
}
