//! SQLite adapter: the embedded job store (one file, WAL mode).
//!
//! SQLite has one writer at a time and no row locks. Each transition is one guarded `UPDATE`,
//! which takes the write lock before it reads, so it is atomic. `lease_next` runs its two
//! statements (dead-letter exhausted expired leases, claim up to n rows with
//! `UPDATE … WHERE job_id IN (SELECT … ORDER BY seq LIMIT n) RETURNING …`) inside
//! `BEGIN IMMEDIATE`: the write lock is held from the first read, so no other connection or
//! process can claim the same rows in between. Waiting writers block up to `busy_timeout`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};

use crate::dialect::Dialect;
use crate::error::Result;
use crate::model::StoreOptions;
use crate::sql::Queries;
use crate::sql_store::SqlJobStore;

/// How long a connection waits for SQLite's write lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub type SqliteJobStore = SqlJobStore<Sqlite>;

impl Dialect for Sqlite {
    const QUERIES: Queries = crate::sql::SQLITE;
    /// Takes the write lock at once, so `lease_next`'s reads and claim see no other writer.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqlJobStore<Sqlite> {
    /// Opens (creating it if needed) the database file at `path` and applies the migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &StoreOptions::default()).await
    }

    pub async fn open_with(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self> {
        Self::connect_options(SqliteConnectOptions::new().filename(path), options).await
    }

    /// Opens a `sqlite:` URL (sqlx's syntax: `sqlite://relative.db`, `sqlite:///abs.db`,
    /// query parameters such as `?mode=rwc`). An in-memory database is private to each pooled
    /// connection: use a file.
    pub async fn open_url(url: &str, options: &StoreOptions) -> Result<Self> {
        Self::connect_options(SqliteConnectOptions::from_str(url)?, options).await
    }

    async fn connect_options(base: SqliteConnectOptions, options: &StoreOptions) -> Result<Self> {
        let connect = base
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(connect)
            .await?;
        crate::migrations::run(crate::migrations::SQLITE, &pool).await?;
        Ok(Self::from_pool(pool, options))
    }
}
