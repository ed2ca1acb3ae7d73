//! Settings of the Kafka adapter.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    /// The jobs topic; `<topic>.retry` and `<topic>.dlq` are derived from it.
    pub topic: String,
    /// The workers' consumer group.
    pub group_id: String,
    /// Partitions of the topics `create_topics` makes: the most workers sharing the jobs.
    pub partitions: i32,
    /// Replication factor of the topics `create_topics` makes (3 on a production cluster).
    pub replication_factor: i32,
    /// A consumer silent this long loses its partitions (librdkafka `session.timeout.ms`).
    pub session_timeout: Duration,
    /// Unsettled deliveries at which the consumer pauses its partitions (the worker's
    /// concurrency), resuming when one settles.
    pub max_in_flight: usize,
    /// Extra librdkafka properties (security.protocol, sasl.*, ssl.*, …), applied last.
    pub properties: Vec<(String, String)>,
}

impl KafkaConfig {
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic: topic.into(),
            group_id: "docfleet-workers".into(),
            partitions: 12,
            replication_factor: 1,
            session_timeout: Duration::from_secs(45),
            max_in_flight: 4,
            properties: Vec::new(),
        }
    }

    pub fn retry_topic(&self) -> String {
        format!("{}.retry", self.topic)
    }

    pub fn dlq_topic(&self) -> String {
        format!("{}.dlq", self.topic)
    }

    pub fn validate(&self) -> Result<()> {
        let t = &self.topic;
        // Kafka topic names: 1-249 of [A-Za-z0-9._-]; ".retry" is added for the retry topic.
        let ok = !t.is_empty()
            && t.len() <= 240
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(Error::Config(format!(
                "Kafka topic {t:?}: use 1-240 characters from A-Z, a-z, 0-9, '.', '_' and '-'"
            )));
        }
        if self.group_id.is_empty() || self.bootstrap_servers.is_empty() {
            return Err(Error::Config(
                "Kafka needs bootstrap servers and a group id".into(),
            ));
        }
        if self.partitions < 1 || self.replication_factor < 1 {
            return Err(Error::Config(
                "Kafka partitions and replication factor must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Properties shared by every client, then the user's.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// `key=value,key=value` → pairs; an entry without `=` is an error naming it.
pub fn parse_properties(s: &str) -> Result<Vec<(String, String)>> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| Error::Config(format!("Kafka property {e:?}: expected key=value")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_properties_and_validation() {
        let c = KafkaConfig::new("b:9092", "docfleet.jobs");
        c.validate().unwrap();
        assert_eq!(c.retry_topic(), "docfleet.jobs.retry");
        assert_eq!(c.dlq_topic(), "docfleet.jobs.dlq");
        for bad in ["", "a b", "a/b"] {
            assert!(
                KafkaConfig::new("b:9092", bad).validate().is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_properties("security.protocol=SASL_SSL, sasl.mechanism=PLAIN,").unwrap(),
            [
                ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
                ("sasl.mechanism".to_owned(), "PLAIN".to_owned())
            ]
        );
        assert!(parse_properties("oops").is_err());
        assert!(parse_properties("").unwrap().is_empty());
    }
}
