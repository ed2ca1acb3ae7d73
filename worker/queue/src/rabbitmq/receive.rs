//! `JobQueue::receive` for RabbitMQ: takes what the consumer has been sent (at most `prefetch`
//! unacked deliveries are ever in flight), waiting for the first one, and reconnects when the
//! consumer stops.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;
use lapin::Consumer;
use lapin::options::BasicCancelOptions;
use tokio::time::{self, Instant as TokioInstant};
use tracing::warn;

use super::{RabbitHandle, RabbitQueue, headers};
use crate::{BoxError, Delivery, DeliveryHandle, Error, Result};

/// Reconnections one `receive` call makes before it reports the broker unavailable.
const MAX_RESTARTS: u32 = 3;

type Next = Option<lapin::Result<lapin::message::Delivery>>;

async fn next(consumer: &mut Consumer) -> Next {
    std::future::poll_fn(|cx| Pin::new(&mut *consumer).poll_next(cx)).await
}

fn delivery(q: &RabbitQueue, d: lapin::message::Delivery) -> Delivery {
    Delivery {
        attempt: headers::attempt(d.properties.headers().as_ref()),
        trace: headers::trace(d.properties.headers().as_ref()),
        body: d.data,
        handle: DeliveryHandle::new(RabbitHandle {
            queue: q.names.queue.clone(),
            acker: d.acker,
            properties: d.properties,
            received_at: Instant::now(),
        }),
    }
}

/// `JobQueue::stop_consuming`: `basic.cancel` (after its `cancel-ok` the broker sends nothing
/// more to this consumer), then whatever it had sent before, still in the client's buffer.
pub(super) async fn stop(q: &RabbitQueue) -> Result<Vec<Delivery>> {
    let Some(session) = q.session.lock().await.clone() else {
        return Ok(Vec::new());
    };
    let Some(consumer) = session.consumer.as_ref() else {
        return Ok(Vec::new());
    };
    session
        .consume_channel()
        .basic_cancel(
            session.consumer_tag.as_str().into(),
            BasicCancelOptions::default(),
        )
        .await
        .map_err(|e| super::map_err("cancelling the consumer", e))?;
    let mut consumer = consumer.lock().await;
    let mut out = Vec::new();
    while let Ok(Some(Ok(d))) = time::timeout(Duration::ZERO, next(&mut consumer)).await {
        if d.acker.usable() {
            out.push(delivery(q, d));
        }
    }
    Ok(out)
}

pub(super) async fn receive(q: &RabbitQueue, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
    if !q.consume {
        return Err(Error::Config(
            "this RabbitQueue was opened with connect_producer: it does not consume".into(),
        ));
    }
    if max == 0 {
        return Ok(Vec::new());
    }
    let deadline = TokioInstant::now() + wait;
    let mut restarts = 0;
    loop {
        let session = q.session().await?;
        let Some(consumer) = session.consumer.as_ref() else {
            return Err(Error::Config(
                "a producer-only session does not consume".into(),
            ));
        };
        let mut consumer = consumer.lock().await;
        let mut out = Vec::new();
        let mut broken = None;
        while out.len() < max {
            let next = if out.is_empty() {
                time::timeout_at(deadline, next(&mut consumer)).await
            } else {
                // Only what is already there: a zero timeout polls the future once first.
                time::timeout(Duration::ZERO, next(&mut consumer)).await
            };
            match next {
                Err(_elapsed) => break,
                Ok(Some(Ok(d))) => {
                    if !d.acker.usable() {
                        continue; // from a channel that closed meanwhile: redelivered anyway
                    }
                    out.push(delivery(q, d));
                }
                Ok(Some(Err(e))) => {
                    broken = Some(BoxError::from(e));
                    break;
                }
                Ok(None) => {
                    broken = Some("the broker cancelled the consumer".into());
                    break;
                }
            }
        }
        let Some(why) = broken else {
            return Ok(out);
        };
        drop(consumer);
        // Deliveries taken from the dead channel cannot be acked; the broker requeues them.
        warn!(
            queue = %q.names.queue,
            error = %why,
            dropped = out.len(),
            "RabbitMQ consumer stopped, reconnecting"
        );
        q.invalidate(session.generation).await;
        restarts += 1;
        if restarts > MAX_RESTARTS {
            return Err(Error::unavailable(
                format!("consuming from {}", q.names.queue),
                why,
            ));
        }
    }
}
