//! docfleet's job store: one row per job with its state, attempts, lease, outcome and error,
//! on PostgreSQL (the fleet) or SQLite (embedded runs), and the job-table queue of
//! `docfleet worker --queue local`.
//!
//! - `JobStore` (store.rs): the seam, with its guard rules; also the fleet-wide document locks
//!   (one job per document at a time, table `document_locks`).
//! - `PostgresJobStore`, `SqliteJobStore`: the adapters, both `SqlJobStore<D>` (sql_store.rs),
//!   written once over sqlx's `Database`; the SQL of both is in sql.rs, and what differs between
//!   the databases in their `Dialect` impls (dialect.rs, postgres.rs, sqlite.rs).
//! - `JobTableQueue` (table_queue.rs): the job table as a `docfleet_queue::JobQueue`.
//! - `TenantStore` (tenants.rs): tenants and their (hashed) API keys, in the same database.
//! - `AuditStore` (audit.rs): the append-only audit trail, in the same database.
//! - `connect(url)`: picks the adapter from the URL.

mod audit;
mod dialect;
mod error;
mod job_row;
mod migrations;
mod model;
mod postgres;
mod sql;
mod sql_store;
mod sqlite;
mod store;
mod table_queue;
mod tenants;

use std::sync::Arc;

pub use audit::{AuditFilter, AuditOutcome, AuditRecord, AuditStore, NewAuditRecord};
pub use error::{Error, Result};
pub use model::{
    BatchCounts, DocumentLock, JobCursor, JobOutcome, JobRecord, JobState, ListFilter, LockHolder,
    StartOutcome, StateCounts, StoreOptions,
};
pub use postgres::PostgresJobStore;
pub use sql_store::SqlJobStore;
pub use sqlite::SqliteJobStore;
pub use store::JobStore;
pub use table_queue::JobTableQueue;
pub use tenants::{ApiKeyRecord, KeyRole, ProfileRecord, Tenant, TenantStore};

/// Now, in the store's time unit: milliseconds since the Unix epoch, as the columns hold them
/// (`created_at_ms`, `at_ms`, …) for the times callers pass in.
pub fn now_ms() -> i64 {
    i64::try_from(docfleet_core::time::now_unix_millis()).unwrap_or(i64::MAX)
}

/// Opens the job store named by `url`: `postgres://…` / `postgresql://…`, `sqlite:…` (sqlx's
/// SQLite URL syntax), or a plain file path (SQLite). Migrations run on connect.
pub async fn connect(url: &str) -> Result<Arc<dyn JobStore>> {
    connect_with(url, &StoreOptions::default()).await
}

pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn JobStore>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PostgresJobStore::connect_with(url, options).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteJobStore::open_url(url, options).await?))
    } else if url.is_empty() || url.contains("://") {
        Err(Error::InvalidUrl {
            url: url.to_owned(),
            reason: "expected postgres://…, sqlite:… or a file path".to_owned(),
        })
    } else {
        Ok(Arc::new(SqliteJobStore::open_with(url, options).await?))
    }
}
