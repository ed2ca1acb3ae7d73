//! A fleet under test: a job store (SQLite file or a fresh PostgreSQL database), a queue (the
//! job table, a private RabbitMQ queue, SQS on moto or a Kafka mock cluster), and real
//! `docfleet worker` processes.
//!
//! - broker.rs: what the tests check and do on the broker side (depths, drained queues,
//!   malformed messages, cut connections).
//! - worker.rs: one `docfleet worker` process, its log and its ops endpoints.

mod broker;
mod worker;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use serde_json::Value;

pub use worker::Worker;

use super::aws::{aws_endpoint, aws_region};
use super::{command_stdout, docfleet, json, ok};

/// Partitions of each Kafka topic of a test fleet.
const KAFKA_PARTITIONS: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rabbitmq,
    Sqs,
    /// librdkafka's mock cluster, in the test process (workers reach it over TCP).
    Kafka,
    LocalSqlite,
    LocalPostgres,
}

impl Kind {
    /// Whether a broker (not the job table) carries the messages.
    pub fn has_broker(self) -> bool {
        matches!(self, Kind::Rabbitmq | Kind::Sqs | Kind::Kafka)
    }
}

pub struct Fleet {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub store_url: String,
    pub queue_name: String,
    postgres_db: Option<(String, String)>,
    kafka: Option<MockCluster<'static, DefaultProducerContext>>,
}

fn postgres_admin_url() -> String {
    std::env::var("DOCFLEET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn psql(url: &str, sql: &str) -> String {
    let mut cmd = Command::new("psql");
    cmd.args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]);
    command_stdout(cmd, &format!("psql {sql}"))
}

impl Fleet {
    pub fn new(kind: Kind, test: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (store_url, postgres_db) = match kind {
            Kind::LocalSqlite => (
                dir.path()
                    .join("jobs.sqlite")
                    .to_string_lossy()
                    .into_owned(),
                None,
            ),
            _ => {
                let admin = postgres_admin_url();
                let name = format!("docfleet_e2e_{}", &id[..12]);
                psql(&admin, &format!("CREATE DATABASE {name}"));
                let (server, _) = admin.rsplit_once('/').unwrap();
                (format!("{server}/{name}"), Some((admin.clone(), name)))
            }
        };
        Fleet {
            kind,
            dir,
            store_url,
            queue_name: format!("e2e-{test}-{}", &id[..8]),
            postgres_db,
            kafka: (kind == Kind::Kafka).then(|| MockCluster::new(1).unwrap()),
        }
        .with_queues()
    }

    /// SQS queues are made by `docfleet queues init` (workers do not create them); Kafka topics
    /// through the mock cluster (which does not serve the admin API's CreateTopics).
    fn with_queues(self) -> Self {
        if self.kind == Kind::Sqs {
            ok(self.cmd().args(["queues", "init"]).output().unwrap());
        }
        if let Some(cluster) = &self.kafka {
            for suffix in ["", ".retry", ".dlq"] {
                let topic = format!("{}{suffix}", self.queue_name);
                cluster.create_topic(&topic, KAFKA_PARTITIONS, 1).unwrap();
            }
        }
        self
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `docfleet` pointed at this fleet's store, queue and data dir, with short leases and
    /// retry delays so that recoveries happen within a test.
    pub fn cmd(&self) -> Command {
        let mut cmd = docfleet(self.dir.path());
        let queue = match self.kind {
            Kind::Rabbitmq => "rabbitmq",
            Kind::Sqs => "sqs",
            Kind::Kafka => "kafka",
            Kind::LocalSqlite | Kind::LocalPostgres => "local",
        };
        if let Some(cluster) = &self.kafka {
            cmd.env(
                "DOCFLEET_KAFKA_BOOTSTRAP_SERVERS",
                cluster.bootstrap_servers(),
            )
            .env(
                "DOCFLEET_KAFKA_GROUP_ID",
                format!("{}-workers", self.queue_name),
            )
            // A killed worker's partitions move after this (librdkafka's default is 45 s).
            .env("DOCFLEET_KAFKA_SESSION_TIMEOUT_MS", "6000");
        }
        let env_or = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_owned());
        cmd.env("DOCFLEET_QUEUE", queue)
            .env("DOCFLEET_SQS_ENDPOINT_URL", aws_endpoint())
            .env("DOCFLEET_S3_ENDPOINT_URL", aws_endpoint())
            .env("DOCFLEET_S3_FORCE_PATH_STYLE", "true")
            .env("DOCFLEET_AWS_REGION", aws_region())
            .env("AWS_ACCESS_KEY_ID", env_or("AWS_ACCESS_KEY_ID", "testing"))
            .env(
                "AWS_SECRET_ACCESS_KEY",
                env_or("AWS_SECRET_ACCESS_KEY", "testing"),
            )
            .env("DOCFLEET_QUEUE_NAME", &self.queue_name)
            .env("DOCFLEET_JOB_STORE_URL", &self.store_url)
            .env("DOCFLEET_LEASE_SECS", "3")
            .env("DOCFLEET_RETRY_MIN_DELAY_SECS", "1")
            .env("DOCFLEET_RETRY_MAX_DELAY_SECS", "2")
            .env("DOCFLEET_POLL_INTERVAL_MS", "100")
            .env("DOCFLEET_OPS_ADDR", "127.0.0.1:0")
            .env("DOCFLEET_LOG", "docfleet=info,docfleet_queue=info");
        cmd
    }

    /// Enqueues files or folders; returns the job ids in order.
    pub fn enqueue(&self, paths: &[&Path]) -> Vec<String> {
        self.enqueue_with(&[], paths)
    }

    /// `enqueue` with extra arguments (per-job options).
    pub fn enqueue_with(&self, args: &[&str], paths: &[&Path]) -> Vec<String> {
        let out = ok(self
            .cmd()
            .args(["enqueue", "--json"])
            .args(args)
            .args(paths)
            .output()
            .unwrap());
        json(&out)["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn jobs(&self) -> Vec<Value> {
        let out = ok(self
            .cmd()
            .args(["jobs", "--json", "--all-tenants"])
            .output()
            .unwrap());
        json(&out).as_array().unwrap().clone()
    }

    /// One job's row, by id.
    pub fn job(&self, id: &str) -> Value {
        self.jobs()
            .into_iter()
            .find(|j| j["job_id"] == id)
            .unwrap_or_else(|| panic!("no job {id}"))
    }

    pub fn count(&self, state: &str) -> usize {
        self.jobs().iter().filter(|j| j["state"] == state).count()
    }

    /// Polls until `done` holds for the job list, or panics with the list after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            let jobs = self.jobs();
            if done(&jobs) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; jobs: {jobs:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn spawn_worker(&self, name: &str, extra: &[(&str, &str)]) -> Worker {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut cmd = self.cmd();
        cmd.arg("worker")
            .env("DOCFLEET_WORKER_ID", name)
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Worker {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    /// Runs a worker until no job is queued or running (`--exit-when-idle`).
    pub fn run_worker_until_idle(&self, name: &str) -> Worker {
        self.run_worker_until_idle_with(name, &[])
    }

    /// `run_worker_until_idle` with more environment.
    pub fn run_worker_until_idle_with(&self, name: &str, extra: &[(&str, &str)]) -> Worker {
        let env: Vec<(&str, &str)> = [("DOCFLEET_EXIT_WHEN_IDLE", "true")]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let mut w = self.spawn_worker(name, &env);
        let status = w.wait(Duration::from_secs(240));
        assert!(
            status.success(),
            "{name} exited {status}:\n{}",
            w.log_text()
        );
        w
    }

    /// Points in the embedded index (the worker must have exited: it holds the index).
    pub fn points(&self) -> u64 {
        super::stats(self.dir.path())
            .iter()
            .map(|t| super::n(t, "points"))
            .sum()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some((admin, db)) = &self.postgres_db {
            let _ = Command::new("psql")
                .args([
                    admin.as_str(),
                    "-qAtc",
                    &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                ])
                .output();
        }
        if self.kind == Kind::Rabbitmq {
            self.delete_rabbit_queues();
        }
    }
}
