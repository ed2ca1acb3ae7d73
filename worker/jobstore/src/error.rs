//! The job store's one error type.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("job store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("job store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid job store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("job {job_id} kept changing while it was being started; try again")]
    Contended { job_id: uuid::Uuid },
    #[error(
        "the lock of document {doc_id} kept changing hands while it was being taken; try again"
    )]
    LockContended { doc_id: String },
    #[error("the profile of tenant {tenant} kept changing while it was being set; try again")]
    ProfileContended { tenant: String },
    #[error("job store row for job {job_id} is unreadable: {reason}")]
    CorruptRow { job_id: String, reason: String },
}

impl Error {
    /// True for failures that may pass on their own (the database is unreachable or busy, a
    /// pool timeout, a serialization conflict); false for bad input, constraint violations and
    /// rows that cannot be decoded, which fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Database(e) => sqlx_retryable(e),
            Error::Migrate(sqlx::migrate::MigrateError::Execute(e)) => sqlx_retryable(e),
            Error::Contended { .. }
            | Error::LockContended { .. }
            | Error::ProfileContended { .. } => true,
            Error::Migrate(_) | Error::InvalidUrl { .. } | Error::CorruptRow { .. } => false,
        }
    }
}

fn sqlx_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    retryable_sqlite_code(&code)
                } else {
                    retryable_sqlstate(&code)
                }
            })
        }
        _ => false,
    }
}

/// SQLite result codes (sqlx reports the extended code; its low byte is the primary one):
/// 5 BUSY, 6 LOCKED.
fn retryable_sqlite_code(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// PostgreSQL SQLSTATEs: class 08 (connection exception), 40001 serialization failure, 40P01
/// deadlock, class 53 insufficient resources (too many connections), 57P01-57P03 shutdown /
/// cannot connect now.
fn retryable_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert!(retryable_sqlstate("08006"));
        assert!(retryable_sqlstate("40001"));
        assert!(retryable_sqlstate("53300"));
        assert!(!retryable_sqlstate("23505")); // unique violation
        assert!(retryable_sqlite_code("5"));
        assert!(retryable_sqlite_code("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(!retryable_sqlite_code("19")); // SQLITE_CONSTRAINT
        assert!(!retryable_sqlite_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(Error::Database(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!Error::Database(sqlx::Error::RowNotFound).is_retryable());
        let bad = Error::InvalidUrl {
            url: "x".into(),
            reason: "y".into(),
        };
        assert!(!bad.is_retryable());
    }
}
