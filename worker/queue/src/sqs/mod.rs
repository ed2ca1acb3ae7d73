//! The SQS adapter (aws-sdk-sqs): long polling, batch receive, visibility as the lease, redrive
//! to `<queue>-dlq` as the safety net.
//!
//! Verdicts, and what SQS sees:
//! - `ack`: `DeleteMessage`.
//! - `retry(after)`: `ChangeMessageVisibility(after)`: the message reappears after the delay and
//!   its next receive counts the attempt (`ApproximateReceiveCount`).
//! - `extend(lease)`: `ChangeMessageVisibility(lease)`: the heartbeat of a long job.
//! - `defer(after)` and `release`: a copy is sent (with `DelaySeconds`, at most 15 min) carrying
//!   the attempts so far in the `docfleet-attempts-before` attribute, then the original deleted,
//!   so waiting for another worker or a shutdown does not spend the redrive's `maxReceiveCount`.
//! - `dead_letter(reason)`: a copy with `docfleet-error` = reason is sent to `<queue>-dlq`, then
//!   the original deleted. Messages SQS dead-letters itself (received `maxReceiveCount` times
//!   without a verdict: a worker that keeps crashing) reach the same queue through the redrive.
//!
//! Copy first, delete after: a failure in between duplicates, never loses.
//! Attempt = `ApproximateReceiveCount` + `docfleet-attempts-before`.

pub mod config;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use docfleet_core::job::JobMessage;
use tracing::warn;

pub use config::SqsConfig;

use crate::{
    BoxError, Delivery, DeliveryHandle, Error, JobProducer, JobQueue, QueueDepth, Result,
    TRACEPARENT, TRACESTATE, TraceContext,
};

/// Message attributes of our copies.
pub const ATTEMPTS_BEFORE: &str = "docfleet-attempts-before";
pub const ERROR: &str = "docfleet-error";
pub const SOURCE_QUEUE: &str = "docfleet-source-queue";

/// SQS's longest `DelaySeconds`.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// What an SQS [`Delivery`] carries.
struct SqsHandle {
    queue_url: String,
    receipt: String,
}

/// Maps an SDK error: a missing queue or a bad request is not worth retrying; a receipt handle
/// that is no longer valid is a stale delivery; the rest (network, throttling, 5xx) is transient.
fn map_err<E>(context: &str, e: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = e.code().unwrap_or("").to_owned();
    let message = e.message().unwrap_or("").to_owned();
    match code.as_str() {
        "ReceiptHandleIsInvalid" => Error::StaleDelivery,
        // "Receipt handle … has expired" / "receipt handle is invalid"
        "InvalidParameterValue" if message.contains("eceipt") => Error::StaleDelivery,
        "AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist" => Error::Topology(
            format!("{context}: the queue does not exist ({message}); run `docfleet queues init`"),
        ),
        "AccessDenied" | "AccessDeniedException" | "InvalidClientTokenId" => {
            Error::Config(format!("{context}: {code}: {message}"))
        }
        _ => Error::unavailable(context, SdkCause(Box::new(e))),
    }
}

/// An SDK error, shown with its whole chain and its debug form (`DisplayErrorContext`, the
/// SDK's advice for logs: its own Display is only "dispatch failure" or "service error").
#[derive(Debug)]
struct SdkCause(BoxError);

impl std::fmt::Display for SdkCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        aws_sdk_sqs::error::DisplayErrorContext(&*self.0).fmt(f)
    }
}

impl std::error::Error for SdkCause {
    /// The SDK error itself, for a caller that downcasts it.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

pub struct SqsQueue {
    client: Client,
    cfg: SqsConfig,
    queue_url: String,
    dlq_url: String,
}

/// An SDK client for `cfg` (the SDK's standard retry: 3 attempts; the runtime retries on top).
pub async fn client(cfg: &SqsConfig) -> Client {
    let sdk =
        docfleet_core::aws::sdk_config(cfg.endpoint_url.as_deref(), cfg.region.as_deref(), 3).await;
    Client::new(&sdk)
}

impl SqsQueue {
    /// Connects to existing queues (`create_queues` makes them).
    pub async fn connect(cfg: SqsConfig) -> Result<Self> {
        cfg.validate()?;
        let client = client(&cfg).await;
        let queue_url = Self::url_of(&client, &cfg.queue).await?;
        let dlq_url = Self::url_of(&client, &cfg.dlq_name()).await?;
        Ok(Self {
            client,
            cfg,
            queue_url,
            dlq_url,
        })
    }

    /// Creates the dead-letter queue and the job queue with its redrive policy (idempotent:
    /// SQS returns the existing queue when the attributes match), for `docfleet queues init`
    /// and tests. Production queues are usually made by infrastructure code.
    pub async fn create_queues(cfg: &SqsConfig) -> Result<()> {
        cfg.validate()?;
        let client = client(cfg).await;
        let dlq = client
            .create_queue()
            .queue_name(cfg.dlq_name())
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .map_err(|e| map_err("creating the dead-letter queue", e))?;
        let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
        let attrs = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| map_err("reading the dead-letter queue's ARN", e))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| Error::Topology("the dead-letter queue has no ARN".into()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": cfg.max_receive_count.to_string(),
        });
        client
            .create_queue()
            .queue_name(&cfg.queue)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                config::visibility_secs(cfg.visibility_timeout).to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(|e| map_err("creating the job queue", e))?;
        Ok(())
    }

    async fn url_of(client: &Client, name: &str) -> Result<String> {
        let out = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| map_err(&format!("looking up queue {name}"), e))?;
        out.queue_url()
            .map(str::to_owned)
            .ok_or_else(|| Error::Topology(format!("queue {name} has no URL")))
    }

    pub fn config(&self) -> &SqsConfig {
        &self.cfg
    }

    fn handle<'a>(&self, d: &'a Delivery) -> Result<&'a SqsHandle> {
        match d.handle.downcast_ref::<SqsHandle>() {
            Some(h) if h.queue_url == self.queue_url => Ok(h),
            _ => Err(Error::ForeignHandle),
        }
    }

    async fn change_visibility(&self, h: &SqsHandle, after: Duration) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&h.receipt)
            .visibility_timeout(config::visibility_secs(after))
            .send()
            .await
            .map_err(|e| map_err("changing a message's visibility", e))?;
        Ok(())
    }

    async fn delete(&self, h: &SqsHandle) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&h.receipt)
            .send()
            .await
            .map_err(|e| map_err("deleting a message", e))?;
        Ok(())
    }

    /// Sends `body` to `queue_url` with string attributes and an optional delay.
    async fn send(
        &self,
        queue_url: &str,
        body: &[u8],
        attributes: &[(&str, String)],
        delay: Duration,
    ) -> Result<()> {
        let body = std::str::from_utf8(body)
            .map_err(|_| Error::Config("SQS message bodies must be UTF-8".into()))?;
        let mut req = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(config::visibility_secs(delay.min(MAX_DELAY)));
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::Config(format!("message attribute {name}: {e}")))?;
            req = req.message_attributes(*name, value);
        }
        req.send()
            .await
            .map_err(|e| map_err("sending a message", e))?;
        Ok(())
    }

    /// Publishes any text to the job queue (for tools and tests; jobs go through `enqueue`).
    pub async fn publish_raw(&self, body: &[u8]) -> Result<()> {
        self.send(&self.queue_url, body, &[], Duration::ZERO).await
    }

    /// Depth of the dead-letter queue.
    pub async fn dead_letter_depth(&self) -> Result<QueueDepth> {
        self.depth_of(&self.dlq_url).await
    }

    async fn depth_of(&self, url: &str) -> Result<QueueDepth> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| map_err("reading queue attributes", e))?;
        let get = |name: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
        };
        Ok(QueueDepth {
            ready: get(QueueAttributeName::ApproximateNumberOfMessages),
            unacked: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            consumers: None,
        })
    }

    /// A copy of `d` carrying the attempts so far, then the original deleted.
    async fn resend(&self, d: &Delivery, after: Duration, attempts_before: u32) -> Result<()> {
        let h = self.handle(d)?;
        let attributes = with_trace(vec![(ATTEMPTS_BEFORE, attempts_before.to_string())], d);
        self.send(&self.queue_url, &d.body, &attributes, after)
            .await?;
        self.delete(h).await
    }
}

/// `attributes` plus the delivery's trace context, which every copy keeps.
fn with_trace<'a>(
    mut attributes: Vec<(&'a str, String)>,
    d: &'a Delivery,
) -> Vec<(&'a str, String)> {
    attributes.extend(d.trace.pairs().map(|(k, v)| (k, v.to_owned())));
    attributes
}

fn string_attribute(
    attrs: Option<&HashMap<String, MessageAttributeValue>>,
    name: &str,
) -> Option<String> {
    attrs?.get(name)?.string_value().map(str::to_owned)
}

fn attempts_before(attrs: Option<&HashMap<String, MessageAttributeValue>>) -> u32 {
    string_attribute(attrs, ATTEMPTS_BEFORE)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max.min(config::MAX_BATCH)).unwrap_or(10))
            .wait_time_seconds(config::visibility_secs(wait.min(config::MAX_WAIT)))
            .visibility_timeout(config::visibility_secs(self.cfg.visibility_timeout))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| map_err("receiving messages", e))?;
        let mut deliveries = Vec::new();
        for m in out.messages() {
            let (Some(body), Some(receipt)) = (m.body(), m.receipt_handle()) else {
                warn!("SQS returned a message without a body or receipt handle");
                continue;
            };
            let received: u32 = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let attrs = m.message_attributes();
            let before = attempts_before(attrs);
            deliveries.push(Delivery {
                body: body.as_bytes().to_vec(),
                attempt: before.saturating_add(received.max(1)),
                trace: TraceContext::from_values(
                    string_attribute(attrs, TRACEPARENT),
                    string_attribute(attrs, TRACESTATE),
                ),
                handle: DeliveryHandle::new(SqsHandle {
                    queue_url: self.queue_url.clone(),
                    receipt: receipt.to_owned(),
                }),
            });
        }
        Ok(deliveries)
    }

    /// 20 s, SQS's longest: an idle worker sends 3 requests a minute. Dropping a receive at
    /// shutdown is safe: a message SQS handed out in that instant stays invisible for the lease
    /// and is then received again (one receive counted).
    fn long_poll(&self) -> Option<Duration> {
        Some(config::MAX_WAIT)
    }

    async fn ack(&self, d: &Delivery) -> Result<()> {
        let h = self.handle(d)?;
        self.delete(h).await
    }

    async fn retry(&self, d: &Delivery, after: Duration) -> Result<()> {
        let h = self.handle(d)?;
        self.change_visibility(h, after).await
    }

    async fn defer(&self, d: &Delivery, after: Duration) -> Result<()> {
        self.resend(d, after, d.attempt.saturating_sub(1)).await
    }

    async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<()> {
        let h = self.handle(d)?;
        let reason: String = reason.chars().take(4000).collect();
        let attributes = with_trace(
            vec![
                (ERROR, reason.clone()),
                (ATTEMPTS_BEFORE, d.attempt.to_string()),
                (SOURCE_QUEUE, self.cfg.queue.clone()),
            ],
            d,
        );
        self.send(&self.dlq_url, &d.body, &attributes, Duration::ZERO)
            .await?;
        warn!(queue = %self.cfg.queue, attempt = d.attempt, reason, "dead-lettered a message");
        self.delete(h).await
    }

    async fn extend(&self, d: &Delivery, lease: Duration) -> Result<()> {
        let h = self.handle(d)?;
        self.change_visibility(h, lease).await
    }

    async fn release(&self, d: &Delivery) -> Result<()> {
        // A copy at once, with the attempt uncounted: a deferral without delay.
        self.defer(d, Duration::ZERO).await
    }

    async fn depth(&self) -> Result<QueueDepth> {
        self.depth_of(&self.queue_url).await
    }
}

#[async_trait]
impl JobProducer for SqsQueue {
    async fn enqueue_traced(&self, msg: &JobMessage, trace: &TraceContext) -> Result<()> {
        let attributes: Vec<_> = trace.pairs().map(|(k, v)| (k, v.to_owned())).collect();
        self.send(
            &self.queue_url,
            &msg.to_bytes(),
            &attributes,
            Duration::ZERO,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::error::DisplayErrorContext;
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;

    use super::*;

    fn timeout() -> SdkError<ReceiveMessageError> {
        SdkError::timeout_error(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer",
        ))
    }

    #[test]
    fn an_sdk_failure_is_unavailable_with_its_whole_text_once_and_the_sdk_error_kept() {
        let e = map_err("receiving messages", timeout());
        assert!(e.is_retryable());
        let text = DisplayErrorContext(timeout()).to_string();
        assert_eq!(
            e.to_string(),
            format!("message broker unavailable: receiving messages: {text}")
        );
        let Error::Unavailable(unavailable) = &e else {
            panic!("not Unavailable: {e}")
        };
        let sdk = unavailable
            .cause()
            .and_then(|c| c.source())
            .and_then(|s| s.downcast_ref::<SdkError<ReceiveMessageError>>());
        assert!(sdk.is_some(), "{e:?}");
    }
}
