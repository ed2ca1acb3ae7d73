//! A fleet under test: a job store (SQLite file or a fresh PostgreSQL database), a queue (the
//! job table or a private RabbitMQ queue), and real `docfleet worker` processes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use serde_json::Value;

use super::{docfleet, json, ok};

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

/// An S3 client on moto.
pub fn s3() -> docfleet_pipeline::store::s3::S3Client {
    use docfleet_pipeline::store::s3::{S3Client, S3Config};
    block_on(S3Client::new(&S3Config {
        endpoint_url: Some(aws_endpoint()),
        region: Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())),
        force_path_style: true,
        ..S3Config::default()
    }))
}

pub fn create_bucket(client: &docfleet_pipeline::store::s3::S3Client, name: &str) {
    block_on(client.sdk().create_bucket().bucket(name).send()).unwrap_or_else(|e| {
        panic!(
            "creating bucket {name} in moto at {}: {e:?}",
            aws_endpoint()
        )
    });
}

pub fn aws_endpoint() -> String {
    std::env::var("DOCFLEET_TEST_AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
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
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql (PostgreSQL client; run ./scripts/services)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl (run ./scripts/services)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
            .env("DOCFLEET_AWS_REGION", env_or("AWS_REGION", "us-east-1"))
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
        let mut w = self.spawn_worker(name, &[("DOCFLEET_EXIT_WHEN_IDLE", "true")]);
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
        cfg.region = Some(std::env::var("AWS_REGION").unwrap_or("us-east-1".into()));
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
        if self.kind == Kind::Rabbitmq
            && let Ok(out) = Command::new("rabbitmqctl")
                .args(["list_queues", "-q", "--no-table-headers", "name"])
                .output()
        {
            for q in String::from_utf8_lossy(&out.stdout).lines() {
                let q = q.trim();
                if q.starts_with(&self.queue_name) {
                    let _ = Command::new("rabbitmqctl")
                        .args(["delete_queue", q])
                        .output();
                }
            }
        }
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address of the ops endpoints, from the worker's startup line.
    pub fn ops_addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log_text();
            if let Some(rest) = log.split("ops endpoints on http://").nth(1) {
                return rest.lines().next().unwrap().trim().to_owned();
            }
            assert!(Instant::now() < deadline, "no ops address in:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GET `path` from the ops endpoints: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.ops_addr()).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let code = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "worker still running after {within:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` small distinct text documents (one or two chunks each) in `dir`.
pub fn small_docs(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let topics = [
        "harbour cranes",
        "alpine glaciers",
        "violin varnish",
        "desert beetles",
        "tram networks",
        "moss gardens",
        "paper mills",
        "coral spawning",
        "bell foundries",
        "salt marshes",
    ];
    (0..n)
        .map(|i| {
            let topic = topics[i % topics.len()];
            let text = format!(
                "Field notes number {i} on {topic}.\n\nObservation {i}: the {topic} studied in \
                 season {} behaved as recorded in log entry {}. The team measured, compared and \
                 wrote down what they saw, and note {i} closes with a summary of {topic}.\n",
                i % 4,
                i * 7 + 3
            );
            let ext = if i % 2 == 0 { "txt" } else { "md" };
            let path = dir.join(format!("note-{i:03}.{ext}"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// A text PDF long enough (several seconds of work) that a test can act while it is being
/// processed.
pub fn slow_pdf(dir: &Path, pages: usize) -> PathBuf {
    let out = dir.join("slow");
    let st = Command::new("python3")
        .arg(super::fixtures().join("generate.py"))
        .arg("--bench-corpus")
        .arg(&out)
        .args(["--docs", "1", "--pages", &pages.to_string()])
        .status()
        .expect("python3");
    assert!(st.success());
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pdf"))
        .expect("a generated PDF")
}
