//! PostgreSQL adapter: the fleet's job store.
//!
//! Every transition is one guarded `UPDATE` (see `sql.rs`). `lease_next` claims rows with
//! `UPDATE … WHERE job_id IN (SELECT … ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED)`: concurrent
//! leasers skip each other's locked rows instead of waiting, and a row updated by a committed
//! claim is re-checked against the `WHERE` before it is locked, so no job is claimed twice.

use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};

use crate::dialect::Dialect;
use crate::error::Result;
use crate::model::StoreOptions;
use crate::sql::Queries;
use crate::sql_store::SqlJobStore;

pub type PostgresJobStore = SqlJobStore<Postgres>;

impl Dialect for Postgres {
    const QUERIES: Queries = crate::sql::POSTGRES;
    /// A plain `BEGIN`: the claim's row locks (`FOR UPDATE SKIP LOCKED`) keep leasers apart.
    const BEGIN_WRITE: Option<&'static str> = None;

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqlJobStore<Postgres> {
    /// Connects (`postgres://user@host:port/db`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        crate::migrations::run(crate::migrations::POSTGRES, &pool).await?;
        Ok(Self::from_pool(pool, options))
    }
}
