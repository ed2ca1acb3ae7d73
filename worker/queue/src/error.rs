//! The queue crate's one error type.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// The broker is unreachable, or the connection or channel broke: try again later.
    #[error("message broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused to store a published message (publisher confirm nack).
    #[error("the broker did not accept the message (publisher nack) on {0}")]
    Rejected(String),
    /// A published message could not be routed to any queue: the topology is missing.
    #[error("message to {0} was unroutable: is the queue declared?")]
    Unroutable(String),
    /// The broker refused a declaration, typically because the queue exists with other arguments.
    #[error("queue topology: {0}")]
    Topology(String),
    /// The delivery came from a connection or channel that has since closed: it can no longer be
    /// acknowledged, and the broker delivers it again.
    #[error("stale delivery: its channel closed, the broker will redeliver it")]
    StaleDelivery,
    /// The delivery handle was made by another queue adapter.
    #[error("delivery handle belongs to another queue adapter")]
    ForeignHandle,
    #[error("invalid queue configuration: {0}")]
    Config(String),
}

impl Error {
    /// Broker trouble is transient; configuration, topology and handle mistakes are not, and a
    /// stale delivery is settled by the broker's redelivery, not by trying again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Rejected(_))
    }
}
