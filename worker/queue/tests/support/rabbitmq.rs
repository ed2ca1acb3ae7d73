//! RabbitMQ: unique queues, deleted at the end (also when a test fails), raw access to the
//! dead-letter queue, and killing a connection from the server side.

use std::process::Command;
use std::time::Duration;

use docfleet_queue::rabbitmq::{DEFAULT_AMQP_URL, RabbitConfig, RabbitQueue};
use lapin::options::{BasicAckOptions, BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};

pub fn amqp_url() -> String {
    std::env::var("DOCFLEET_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

fn unreachable(e: impl std::fmt::Display) -> ! {
    let e = e.to_string();
    assert!(
        !e.contains("queue topology"),
        "RabbitMQ refused the topology: {e}"
    );
    panic!(
        "RabbitMQ is not reachable at {} ({e}): start it with `./scripts/services rabbitmq` \
         (or set DOCFLEET_TEST_AMQP_URL)",
        amqp_url()
    )
}

/// A test's queue: a unique name, and its topology deleted when this is dropped.
pub struct TestQueue {
    pub name: String,
    /// Retry delays (ms) the test used, so their queues get deleted too.
    pub retry_buckets: Vec<u64>,
}

impl TestQueue {
    pub fn new(test: &str) -> Self {
        Self {
            name: format!("docfleet-test-{test}-{}", uuid::Uuid::new_v4()),
            retry_buckets: Vec::new(),
        }
    }

    pub fn config(&self, prefetch: u16) -> RabbitConfig {
        let mut cfg = RabbitConfig::new(amqp_url(), &self.name, prefetch);
        cfg.connection_name = self.name.clone();
        cfg.reconnect_min_delay = Duration::from_millis(50);
        cfg.reconnect_max_delay = Duration::from_millis(500);
        cfg.reconnect_max_times = 6;
        cfg
    }

    pub async fn connect(&self, prefetch: u16) -> RabbitQueue {
        self.connect_with(self.config(prefetch)).await
    }

    /// A producer-only connection (declares the topology, does not consume).
    pub async fn producer(&self) -> RabbitQueue {
        self.producer_with(self.config(1)).await
    }

    pub async fn producer_with(&self, mut cfg: RabbitConfig) -> RabbitQueue {
        cfg.connection_name = format!("{}-producer", self.name);
        RabbitQueue::connect_producer(cfg)
            .await
            .unwrap_or_else(|e| unreachable(e))
    }

    pub async fn connect_with(&self, cfg: RabbitConfig) -> RabbitQueue {
        RabbitQueue::connect(cfg)
            .await
            .unwrap_or_else(|e| unreachable(e))
    }

    /// Takes one message from the dead-letter queue (acked), if any.
    pub async fn get_dead_letter(&self) -> Option<lapin::message::BasicGetMessage> {
        let conn = raw_connection().await;
        let ch = conn.create_channel().await.expect("channel");
        let msg = ch
            .basic_get(
                format!("{}.dlq", self.name).as_str().into(),
                BasicGetOptions::default(),
            )
            .await
            .expect("basic.get on the DLQ");
        if let Some(m) = &msg {
            m.delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
        }
        let _ = conn.close(200, "bye".into()).await;
        msg
    }

    async fn delete(name: String, buckets: Vec<u64>) {
        // Quietly: when the broker is down the test has already failed with the reason.
        let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await
        else {
            return;
        };
        let mut queues = vec![name.clone(), format!("{name}.dlq")];
        queues.extend(buckets.iter().map(|ms| format!("{name}.retry.{ms}")));
        for q in queues {
            // A channel per call: deleting a missing queue is fine, but be safe with errors.
            let ch = conn.create_channel().await.expect("channel");
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let ch = conn.create_channel().await.expect("channel");
        let _ = ch
            .exchange_delete(
                format!("{name}.dlx").as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = conn.close(200, "bye".into()).await;
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let (name, buckets) = (self.name.clone(), self.retry_buckets.clone());
        // Drop cannot await: clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(Self::delete(name, buckets));
        })
        .join();
    }
}

pub async fn raw_connection() -> Connection {
    Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap_or_else(|e| unreachable(e))
}

/// Closes, from the broker's side (`rabbitmqctl close_connection`, as an operator or a broker
/// shutdown would), the connections whose client-provided name is exactly `name`.
/// Returns how many were closed.
pub fn kill_connections(name: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl (is RabbitMQ installed? run ./scripts/services)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut closed = 0;
    let quoted = format!("{{\"connection_name\",\"{name}\"}}");
    for line in listing.lines().filter(|l| l.contains(&quoted)) {
        let pid = line.split_whitespace().next().expect("a pid column");
        let st = Command::new("rabbitmqctl")
            .args(["close_connection", pid, "docfleet test: broker-side close"])
            .status()
            .expect("rabbitmqctl close_connection");
        assert!(st.success());
        closed += 1;
    }
    closed
}
