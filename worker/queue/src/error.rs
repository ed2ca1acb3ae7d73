//! The queue crate's one error type.

use std::fmt;

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A broker client's error, kept as it came.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum Error {
    /// The broker is unreachable, or the connection or channel broke: try again later.
    #[error("message broker unavailable: {0}")]
    Unavailable(Unavailable),
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

    /// [`Error::Unavailable`] while doing `context`, because of the client's error `cause`.
    pub fn unavailable(context: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Error::Unavailable(Unavailable {
            context: Some(context.into()),
            cause: Some(cause.into()),
        })
    }

    /// [`Error::Unavailable`] whose cause says it all (a job-store error names its store).
    pub fn unavailable_from(cause: impl Into<BoxError>) -> Self {
        Error::Unavailable(Unavailable {
            context: None,
            cause: Some(cause.into()),
        })
    }

    /// [`Error::Unavailable`] that no client error stands behind (`context` says it all).
    pub fn unavailable_because(context: impl Into<String>) -> Self {
        Error::Unavailable(Unavailable {
            context: Some(context.into()),
            cause: None,
        })
    }
}

/// What an [`Error::Unavailable`] carries: what the adapter was doing, and the broker client's
/// error behind it (kept, not flattened into text).
///
/// Its Display is "context: cause", the text the worker's logs print (`error = %e`). So the
/// cause is not also returned by `source()`: an error shows its cause in its text or chains it,
/// never both, or `{:#}` (anyhow chains: the CLI's errors, the API's problem details) would print
/// it twice. Reach it with [`Unavailable::cause`].
#[derive(Debug)]
pub struct Unavailable {
    context: Option<String>,
    cause: Option<BoxError>,
}

impl Unavailable {
    /// What the adapter was doing, when it said.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The broker client's error, when there was one (downcast it to the client's error type).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.cause.as_deref()
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.context, &self.cause) {
            (Some(context), Some(cause)) => write!(f, "{context}: {cause}"),
            (Some(context), None) => f.write_str(context),
            (None, Some(cause)) => write!(f, "{cause}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_shows_its_cause_once_and_keeps_it() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::unavailable("connecting to RabbitMQ", io);
        assert_eq!(
            e.to_string(),
            "message broker unavailable: connecting to RabbitMQ: refused"
        );
        assert!(e.is_retryable());
        // The text is whole on its own, so nothing is chained below it (no doubling in `{:#}`).
        assert!(std::error::Error::source(&e).is_none());
        let Error::Unavailable(u) = &e else {
            unreachable!()
        };
        assert_eq!(u.context(), Some("connecting to RabbitMQ"));
        let cause = u.cause().and_then(|c| c.downcast_ref::<std::io::Error>());
        assert_eq!(
            cause.map(std::io::Error::kind),
            Some(std::io::ErrorKind::ConnectionRefused)
        );

        let e = Error::unavailable_because("consuming from jobs: the broker cancelled it");
        assert_eq!(
            e.to_string(),
            "message broker unavailable: consuming from jobs: the broker cancelled it"
        );
        let e = Error::unavailable_from("job store: pool timed out");
        assert_eq!(
            e.to_string(),
            "message broker unavailable: job store: pool timed out"
        );
        assert!(e.is_retryable());
    }
}
