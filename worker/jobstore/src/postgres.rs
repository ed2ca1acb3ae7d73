//! PostgreSQL adapter: the fleet's job store.
//!
//! Every transition is one guarded `UPDATE` (see `sql.rs`). `lease_next` claims rows with
//! `UPDATE … WHERE job_id IN (SELECT … ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED)`: concurrent
//! leasers skip each other's locked rows instead of waiting, and a row updated by a committed
//! claim is re-checked against the `WHERE` before it is locked, so no job is claimed twice.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::Result;
use crate::model::StoreOptions;

#[derive(Debug, Clone)]
pub struct PostgresJobStore {
    pool: PgPool,
    max_attempts: i32,
}

impl PostgresJobStore {
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
        Ok(PostgresJobStore {
            pool,
            max_attempts: crate::shared::max_attempts(options),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

impl_job_store!(PostgresJobStore, crate::sql::POSTGRES);
impl_tenant_store!(PostgresJobStore);
impl_audit_store!(PostgresJobStore);
