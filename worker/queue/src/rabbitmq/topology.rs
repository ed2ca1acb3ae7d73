//! Names and arguments of the queues and exchange the adapter declares, idempotently, on every
//! (re)connect. RabbitMQ accepts a re-declaration with identical arguments and refuses one with
//! different arguments (PRECONDITION_FAILED), which surfaces as [`crate::Error::Topology`].
//!
//! | name | kind | arguments |
//! |---|---|---|
//! | `<queue>` | quorum queue, durable | `x-delivery-limit`, dead-letters to `<queue>.dlx` / `<queue>.dlq`, `x-dead-letter-strategy: at-least-once`, `x-overflow: reject-publish` |
//! | `<queue>.dlx` | direct exchange, durable | |
//! | `<queue>.dlq` | quorum queue, durable, bound to `<queue>.dlx` with key `<queue>.dlq` | |
//! | `<queue>.retry.<ms>` | quorum queue, durable, declared on use | `x-message-ttl: <ms>`, dead-letters to the default exchange with key `<queue>` (back to the job queue), at-least-once, `x-expires: <ms> + 10 min` |
//!
//! At-least-once dead-lettering (RabbitMQ 3.10+) keeps a dead-lettered message in its source
//! queue until the target queue has confirmed it, so a message never vanishes between queues; it
//! requires `x-overflow: reject-publish`. No queue has a length limit, so that overflow rule never
//! triggers.
//!
//! Retry queues hold one delay each (per-message TTLs would only expire at the head of a queue, so
//! a long delay would hold back a shorter one behind it). They expire 10 minutes after their last
//! declaration, which `retry` repeats before every publish, so a retry queue never expires with a
//! message in it.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use super::map_err;
use crate::Result;

/// How long an unused retry queue outlives the delay of the messages in it.
const RETRY_QUEUE_SLACK: Duration = Duration::from_secs(10 * 60);

/// The names derived from the job queue's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The job queue.
    pub queue: String,
    /// The dead-letter exchange.
    pub dlx: String,
    /// The dead-letter queue.
    pub dlq: String,
}

impl Names {
    pub fn new(queue: &str) -> Self {
        Self {
            queue: queue.to_owned(),
            dlx: format!("{queue}.dlx"),
            dlq: format!("{queue}.dlq"),
        }
    }

    /// The retry queue for a delay of `ms` milliseconds.
    pub fn retry(&self, ms: u64) -> String {
        format!("{}.retry.{ms}", self.queue)
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

fn int(n: u64) -> AMQPValue {
    AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX))
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

pub(crate) fn main_queue_args(names: &Names, delivery_limit: u32) -> FieldTable {
    args(&[
        ("x-queue-type", text("quorum")),
        ("x-delivery-limit", int(u64::from(delivery_limit))),
        ("x-dead-letter-exchange", text(&names.dlx)),
        ("x-dead-letter-routing-key", text(&names.dlq)),
        ("x-dead-letter-strategy", text("at-least-once")),
        ("x-overflow", text("reject-publish")),
    ])
}

pub(crate) fn retry_queue_args(names: &Names, ms: u64) -> FieldTable {
    let slack = u64::try_from(RETRY_QUEUE_SLACK.as_millis()).unwrap_or(u64::MAX);
    args(&[
        ("x-queue-type", text("quorum")),
        ("x-message-ttl", int(ms)),
        ("x-expires", int(ms.saturating_add(slack))),
        ("x-dead-letter-exchange", text("")),
        ("x-dead-letter-routing-key", text(&names.queue)),
        ("x-dead-letter-strategy", text("at-least-once")),
        ("x-overflow", text("reject-publish")),
    ])
}

/// Declares the job queue, the dead-letter exchange and queue, and their binding.
pub(crate) async fn declare(ch: &Channel, names: &Names, delivery_limit: u32) -> Result<()> {
    ch.exchange_declare(
        names.dlx.as_str().into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| map_err(&format!("declaring exchange {}", names.dlx), e))?;
    ch.queue_declare(
        names.dlq.as_str().into(),
        durable(),
        args(&[("x-queue-type", text("quorum"))]),
    )
    .await
    .map_err(|e| map_err(&format!("declaring queue {}", names.dlq), e))?;
    ch.queue_bind(
        names.dlq.as_str().into(),
        names.dlx.as_str().into(),
        names.dlq.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(|e| map_err(&format!("binding {} to {}", names.dlq, names.dlx), e))?;
    ch.queue_declare(
        names.queue.as_str().into(),
        durable(),
        main_queue_args(names, delivery_limit),
    )
    .await
    .map_err(|e| map_err(&format!("declaring queue {}", names.queue), e))?;
    Ok(())
}

/// Declares (or renews) the retry queue for `ms`, returning its name.
pub(crate) async fn declare_retry(ch: &Channel, names: &Names, ms: u64) -> Result<String> {
    let name = names.retry(ms);
    ch.queue_declare(name.as_str().into(), durable(), retry_queue_args(names, ms))
        .await
        .map_err(|e| map_err(&format!("declaring queue {name}"), e))?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_queue() {
        let n = Names::new("jobs");
        assert_eq!((n.dlx.as_str(), n.dlq.as_str()), ("jobs.dlx", "jobs.dlq"));
        assert_eq!(n.retry(320), "jobs.retry.320");
        let a = main_queue_args(&n, 5);
        assert_eq!(
            a.inner().get("x-delivery-limit"),
            Some(&AMQPValue::LongLongInt(5))
        );
        let r = retry_queue_args(&n, 320);
        assert_eq!(
            r.inner().get("x-expires"),
            Some(&AMQPValue::LongLongInt(600_320))
        );
    }
}
