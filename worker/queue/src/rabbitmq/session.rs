//! One connection to the broker: a channel that consumes (with its `basic.qos`), a channel that
//! publishes in confirm mode, and the topology declared on it. When the connection breaks, the
//! whole session is thrown away and a new one is opened (with a new generation number).

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer};
use tracing::{info, warn};

use super::config::RabbitConfig;
use super::map_err;
use super::topology::{self, Names};
use crate::{Error, Result};

pub(crate) struct Session {
    pub(crate) generation: u64,
    conn: Connection,
    consume: Channel,
    publish: Channel,
    /// `None` for a producer-only session.
    pub(crate) consumer: Option<tokio::sync::Mutex<Consumer>>,
    /// The consumer's tag, for `basic.cancel`.
    pub(crate) consumer_tag: String,
}

impl Session {
    /// Connects, declares the topology and starts consuming.
    async fn open(
        cfg: &RabbitConfig,
        names: &Names,
        generation: u64,
        consume: bool,
    ) -> Result<Self> {
        let props = ConnectionProperties::default()
            .with_connection_name(cfg.connection_name.as_str().into());
        // lapin 4 picks its runtime from its cargo feature: with `tokio`, `connect` binds the
        // I/O to the tokio runtime it is called from.
        let conn = Connection::connect(&cfg.url, props)
            .await
            .map_err(|e| map_err("connecting to RabbitMQ", e))?;
        let publish = conn
            .create_channel()
            .await
            .map_err(|e| map_err("opening a channel", e))?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| map_err("enabling publisher confirms", e))?;
        topology::declare(&publish, names, cfg.delivery_limit).await?;
        let consume_ch = conn
            .create_channel()
            .await
            .map_err(|e| map_err("opening a channel", e))?;
        if !consume {
            return Ok(Self {
                generation,
                conn,
                consume: consume_ch,
                publish,
                consumer: None,
                consumer_tag: String::new(),
            });
        }
        consume_ch
            .basic_qos(cfg.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| map_err("setting prefetch", e))?;
        let tag = format!("{}-{}", cfg.connection_name, uuid::Uuid::new_v4());
        let consumer = consume_ch
            .basic_consume(
                names.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(), // manual acks
                FieldTable::default(),
            )
            .await
            .map_err(|e| map_err(&format!("consuming from {}", names.queue), e))?;
        Ok(Self {
            generation,
            conn,
            consume: consume_ch,
            publish,
            consumer: Some(tokio::sync::Mutex::new(consumer)),
            consumer_tag: tag,
        })
    }

    /// Opens a session, retrying with exponential backoff and jitter while the broker is
    /// unavailable; configuration and topology errors fail at once.
    pub(crate) async fn open_with_backoff(
        cfg: &RabbitConfig,
        names: &Names,
        generation: u64,
        consume: bool,
    ) -> Result<Self> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(cfg.reconnect_min_delay)
            .with_max_delay(cfg.reconnect_max_delay)
            .with_max_times(cfg.reconnect_max_times)
            .with_jitter();
        let session = (|| Self::open(cfg, names, generation, consume))
            .retry(backoff)
            .when(Error::is_retryable)
            .notify(|e: &Error, after: Duration| {
                warn!(error = %e, retry_in_ms = after.as_millis() as u64, "RabbitMQ connection failed");
            })
            .await?;
        info!(queue = %names.queue, generation, "connected to RabbitMQ");
        Ok(session)
    }

    pub(crate) fn healthy(&self) -> bool {
        self.conn.status().connected()
            && self.consume.status().connected()
            && self.publish.status().connected()
    }

    /// Publishes a persistent message and waits for the broker's confirm. `mandatory` turns an
    /// unroutable message into [`Error::Unroutable`] instead of a silent drop.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<()> {
        let dest = if exchange.is_empty() {
            routing_key.to_owned()
        } else {
            format!("{exchange}/{routing_key}")
        };
        let props = props.with_delivery_mode(2); // persistent
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = self
            .publish
            .basic_publish(exchange.into(), routing_key.into(), options, body, props)
            .await
            .map_err(|e| map_err(&format!("publishing to {dest}"), e))?
            .await
            .map_err(|e| map_err(&format!("waiting for the confirm from {dest}"), e))?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(Error::Unroutable(dest)),
            Confirmation::Nack(_) => Err(Error::Rejected(dest)),
            Confirmation::NotRequested => Err(Error::unavailable_because(format!(
                "publishing to {dest}: the channel is not in confirm mode"
            ))),
        }
    }

    /// A short-lived channel for operations that may close it on failure (a passive declare of a
    /// missing queue closes its channel), so they cannot break the consuming channel.
    pub(crate) async fn scratch_channel(&self) -> Result<Channel> {
        self.conn
            .create_channel()
            .await
            .map_err(|e| map_err("opening a channel", e))
    }

    /// The channel in confirm mode, for declarations before a publish.
    pub(crate) fn publish_channel(&self) -> &Channel {
        &self.publish
    }

    /// The channel deliveries arrive on.
    pub(crate) fn consume_channel(&self) -> &Channel {
        &self.consume
    }

    pub(crate) async fn close(&self) {
        if self.conn.status().connected()
            && let Err(e) = self.conn.close(200, "bye".into()).await
        {
            tracing::debug!(error = %e, "closing the RabbitMQ connection");
        }
    }
}
