//! Which Qdrant failures are worth another try, and retrying them with backoff.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use qdrant_client::QdrantError;
use tonic::Code;

use crate::Error;

/// Codes a server that is restarting, overloaded or briefly unreachable answers with (tonic
/// reports a refused or dropped connection as `Unavailable`, and some as `Unknown`).
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Unknown
            | Code::Cancelled
    )
}

/// Retried inside the call, with backoff.
pub fn is_transient(e: &QdrantError) -> bool {
    match e {
        QdrantError::ResponseError { status } => transient(status.code()),
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
        _ => false,
    }
}

/// Whether the job may succeed on a later attempt: a transient failure that outlasted the
/// in-call retries, or a server-side fault; not a request the server refused as invalid.
fn job_retryable(e: &QdrantError) -> bool {
    match e {
        QdrantError::ResponseError { status } => {
            transient(status.code()) || status.code() == Code::Internal
        }
        other => is_transient(other),
    }
}

pub fn is_not_found(e: &QdrantError) -> bool {
    matches!(e, QdrantError::ResponseError { status } if status.code() == Code::NotFound)
}

/// The server's own message, without tonic's metadata dump.
pub fn describe(e: &QdrantError) -> String {
    match e {
        QdrantError::ResponseError { status } => {
            format!("{:?}: {}", status.code(), status.message())
        }
        QdrantError::ResourceExhaustedError {
            status,
            retry_after_seconds,
        } => format!(
            "resource exhausted: {} (retry after {retry_after_seconds} s)",
            status.message()
        ),
        other => other.to_string(),
    }
}

/// A failed Qdrant call as the index's error shows it ([`describe`]); the client's error is kept
/// inside. Its own causes are not chained: the description already says what matters.
#[derive(Debug)]
pub struct QdrantFailure(pub QdrantError);

impl fmt::Display for QdrantFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

impl std::error::Error for QdrantFailure {}

pub fn to_error(what: &str, url: &str, e: QdrantError) -> Error {
    let retryable = job_retryable(&e);
    Error::index_caused_by(
        format!("Qdrant at {url}: {what}"),
        QdrantFailure(e),
        retryable,
    )
}

/// Runs `op`, retrying transient failures up to `max_attempts` attempts in all, waiting at least
/// as long as the server asks (`retry-after` on rate limits).
pub async fn with_retries<T, F, Fut>(what: &str, max_attempts: u32, op: F) -> Result<T, QdrantError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QdrantError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .with_max_times(max_attempts.saturating_sub(1) as usize);
    op.retry(backoff)
        .when(is_transient)
        .adjust(|e, delay| match e {
            QdrantError::ResourceExhaustedError {
                retry_after_seconds,
                ..
            } => delay.map(|d| d.max(Duration::from_secs(*retry_after_seconds))),
            _ => delay,
        })
        .notify(|e, after| {
            tracing::warn!(error = %describe(e), ?after, "Qdrant {what} failed; retrying");
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic::Status;

    use super::*;

    fn status(code: Code) -> QdrantError {
        QdrantError::ResponseError {
            status: Status::new(code, "msg"),
        }
    }

    #[test]
    fn unavailability_is_retried_and_invalid_requests_are_not() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            assert!(is_transient(&status(code)), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::Unauthenticated,
            Code::Internal,
        ] {
            assert!(!is_transient(&status(code)), "{code:?}");
        }
        assert!(is_transient(&QdrantError::ResourceExhaustedError {
            status: Status::resource_exhausted("slow down"),
            retry_after_seconds: 1,
        }));
    }

    #[test]
    fn job_level_retry_covers_server_faults_but_not_bad_requests() {
        assert!(to_error("upsert", "http://q", status(Code::Internal)).is_retryable());
        assert!(to_error("upsert", "http://q", status(Code::Unavailable)).is_retryable());
        let bad = to_error("upsert", "http://q", status(Code::InvalidArgument));
        assert!(!bad.is_retryable());
        assert_eq!(
            bad.report().to_string(),
            "vector index: Qdrant at http://q: upsert: InvalidArgument: msg"
        );
        // The cause is kept, not repeated: a chain shows it once.
        assert_eq!(bad.to_string(), "vector index: Qdrant at http://q: upsert");
        let cause = std::error::Error::source(&bad).unwrap();
        assert!(cause.downcast_ref::<QdrantFailure>().is_some());
    }

    #[tokio::test]
    async fn retries_transient_failures_until_the_attempts_run_out() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries("search", 3, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(status(Code::Unavailable))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<u32, _> = with_retries("search", 3, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(status(Code::Unavailable)),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 1);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries("search", 3, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(status(Code::InvalidArgument))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "an invalid request is not retried"
        );
    }
}
