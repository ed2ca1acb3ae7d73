//! Kafka against librdkafka's mock cluster (a real Kafka protocol peer, in the test process):
//! one cluster per test, and reading a topic from its beginning.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use docfleet_queue::kafka::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub struct Cluster {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Cluster {
    pub fn new() -> Self {
        Self {
            cluster: MockCluster::new(1).unwrap(),
        }
    }

    /// A config for a fresh topic with `partitions`, the topics created (the mock cluster does
    /// not serve the admin API's CreateTopics: `create_topics` is for real clusters).
    pub fn config(&self, test: &str, partitions: i32) -> KafkaConfig {
        let mut cfg = KafkaConfig::new(self.cluster.bootstrap_servers(), format!("jobs-{test}"));
        cfg.group_id = format!("group-{test}");
        cfg.partitions = partitions;
        cfg.session_timeout = Duration::from_secs(6);
        for topic in [cfg.topic.clone(), cfg.retry_topic(), cfg.dlq_topic()] {
            self.cluster.create_topic(&topic, partitions, 1).unwrap();
        }
        cfg
    }
}

/// A message as it lies on a topic.
pub struct Record {
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Every message on `topic` so far, partition by partition (blocking: up to a few seconds).
pub fn read_topic(cfg: &KafkaConfig, topic: &str) -> Vec<Record> {
    let timeout = Duration::from_secs(5);
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cfg.bootstrap_servers)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = reader.fetch_metadata(Some(topic), timeout).unwrap();
    let mut assignment = TopicPartitionList::new();
    let mut want = 0;
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = reader.fetch_watermarks(topic, p.id(), timeout).unwrap();
        want += usize::try_from(high - low).unwrap();
        assignment
            .add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    reader.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        let Some(m) = reader.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.unwrap();
        let headers = m.headers().map(|h| {
            h.iter()
                .filter_map(|h| {
                    Some((h.key.to_owned(), String::from_utf8(h.value?.to_vec()).ok()?))
                })
                .collect()
        });
        out.push(Record {
            payload: m.payload().unwrap_or_default().to_vec(),
            headers: headers.unwrap_or_default(),
        });
    }
    assert_eq!(out.len(), want, "messages on {topic}");
    out
}
