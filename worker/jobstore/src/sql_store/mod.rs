//! `SqlJobStore<D>`: the `JobStore` on a SQL database, written once for both dialects
//! (`PostgresJobStore`, `SqliteJobStore`). The SQL is in sql.rs; what differs between the
//! databases is in their `Dialect` impls (postgres.rs, sqlite.rs).

use std::time::Duration;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_queue::TraceContext;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{Database, Pool, Transaction};
use uuid::Uuid;

mod audit;
mod tenants;

use crate::dialect::{Columns, Dialect, Params};
use crate::error::{Error, Result};
use crate::job_row::{decode_record, lease_ms, max_attempts, parse_state, to_i64};
use crate::model::{
    BatchCounts, DocumentLock, JobOutcome, JobRecord, JobState, ListFilter, LockHolder,
    StartOutcome, StateCounts, StoreOptions,
};
use crate::store::JobStore;

/// How often `start` (and `lock_document`) re-reads a row that changed between its update and
/// its probe.
const START_TRIES: usize = 5;

/// The job store on database `D` (`sqlx::Postgres` or `sqlx::Sqlite`): a pool and the attempt
/// limit written into new rows. Also the `TenantStore` (tenants.rs) and the `AuditStore`
/// (audit.rs) of the same database.
#[derive(Debug)]
pub struct SqlJobStore<D: Database> {
    pool: Pool<D>,
    max_attempts: i32,
}

impl<D: Database> Clone for SqlJobStore<D> {
    fn clone(&self) -> Self {
        SqlJobStore {
            pool: self.pool.clone(),
            max_attempts: self.max_attempts,
        }
    }
}

impl<D: Database> SqlJobStore<D> {
    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }
}

impl<D: Dialect> SqlJobStore<D> {
    /// A store on a pool whose migrations have run.
    pub(crate) fn from_pool(pool: Pool<D>, options: &StoreOptions) -> Self {
        SqlJobStore {
            pool,
            max_attempts: max_attempts(options),
        }
    }

    /// Runs `query` on the pool; whether it changed exactly one row.
    pub(crate) async fn changed_one(&self, query: Query<'_, D, D::Arguments>) -> Result<bool> {
        let done = query.execute(D::on_pool(&self.pool)).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(crate) async fn fetch_optional(
        &self,
        query: Query<'_, D, D::Arguments>,
    ) -> Result<Option<D::Row>> {
        Ok(query.fetch_optional(D::on_pool(&self.pool)).await?)
    }

    pub(crate) async fn fetch_all(&self, query: Query<'_, D, D::Arguments>) -> Result<Vec<D::Row>> {
        Ok(query.fetch_all(D::on_pool(&self.pool)).await?)
    }

    pub(crate) async fn fetch_one(&self, query: Query<'_, D, D::Arguments>) -> Result<D::Row> {
        Ok(query.fetch_one(D::on_pool(&self.pool)).await?)
    }

    /// The transaction that makes `lease_next` atomic (`Dialect::BEGIN_WRITE`).
    async fn begin_write(&self) -> Result<Transaction<'static, D>> {
        Ok(match D::BEGIN_WRITE {
            Some(begin) => self.pool.begin_with(begin).await?,
            None => self.pool.begin().await?,
        })
    }

    async fn get_by(&self, query: Query<'_, D, D::Arguments>) -> Result<Option<JobRecord>> {
        let row = self.fetch_optional(query).await?;
        row.map(|row| decode_record::<D>(&row)).transpose()
    }
}

/// Jobs per state, from rows of (state, COUNT(*)).
fn add_count<D: Dialect>(counts: &mut StateCounts, row: &D::Row) -> Result<()> {
    let row = Columns::<D>(row);
    let state: String = row.get_at(0)?;
    let state = parse_state(Uuid::nil(), &state)?;
    let n: i64 = row.get_at(1)?;
    *counts.slot(state) = u64::try_from(n).unwrap_or(0);
    Ok(())
}

#[async_trait]
impl<D: Dialect> JobStore for SqlJobStore<D> {
    fn tenants(&self) -> &dyn crate::tenants::TenantStore {
        self
    }

    fn audit(&self) -> &dyn crate::audit::AuditStore {
        self
    }

    async fn create_in_batch(
        &self,
        msg: &JobMessage,
        batch_id: Option<Uuid>,
        trace: &TraceContext,
    ) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.create)
                .param(msg.job_id)
                .param(msg.tenant.as_str())
                .param(msg.source.as_str())
                .param(Json(&msg.options))
                .param(to_i64(msg.submitted_at_unix_ms))
                .param(self.max_attempts)
                .param(batch_id)
                .param(trace.traceparent.as_deref())
                .param(trace.tracestate.as_deref()),
        )
        .await
    }

    async fn start(&self, job_id: Uuid, worker_id: &str, lease: Duration) -> Result<StartOutcome> {
        let lease = lease_ms(lease);
        for _ in 0..START_TRIES {
            let taken = self
                .fetch_optional(
                    sqlx::query(D::QUERIES.start)
                        .param(job_id)
                        .param(worker_id)
                        .param(lease),
                )
                .await?;
            if let Some(row) = taken {
                return Ok(StartOutcome::Started(Box::new(decode_record::<D>(&row)?)));
            }
            let Some(row) = self
                .fetch_optional(sqlx::query(D::QUERIES.probe).param(job_id))
                .await?
            else {
                return Ok(StartOutcome::NotFound);
            };
            let row = Columns::<D>(&row);
            let state = parse_state(job_id, &row.get::<String>("state")?)?;
            let holder: Option<String> = row.get("worker_id")?;
            let expires: Option<i64> = row.get("lease_expires_at_ms")?;
            match (state, holder, expires) {
                (s, _, _) if s.is_finished() => return Ok(StartOutcome::AlreadyFinished(s)),
                (JobState::Running, Some(holder), Some(expires)) if holder != worker_id => {
                    return Ok(StartOutcome::LeasedByOther {
                        worker_id: holder,
                        lease_expires_at_ms: expires,
                    });
                }
                // Changed between the update and the probe: try again.
                _ => continue,
            }
        }
        Err(Error::Contended { job_id })
    }

    async fn extend_lease(&self, job_id: Uuid, worker_id: &str, lease: Duration) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.extend_lease)
                .param(job_id)
                .param(worker_id)
                .param(lease_ms(lease)),
        )
        .await
    }

    async fn succeed(&self, job_id: Uuid, worker_id: &str, outcome: &JobOutcome) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.succeed)
                .param(job_id)
                .param(worker_id)
                .param(Json(&outcome.timings))
                .param(to_i64(outcome.pages))
                .param(to_i64(outcome.chunks))
                .param(to_i64(outcome.points))
                .param(Json(&outcome.artifacts))
                .param(outcome.profile_version)
                .param(outcome.pii_counts.as_ref().map(Json)),
        )
        .await
    }

    async fn fail(
        &self,
        job_id: Uuid,
        worker_id: &str,
        error: &str,
        terminal: bool,
        retry_after: Duration,
    ) -> Result<Option<JobState>> {
        let row = self
            .fetch_optional(
                sqlx::query(D::QUERIES.fail)
                    .param(job_id)
                    .param(worker_id)
                    .param(error)
                    .param(terminal)
                    .param(lease_ms(retry_after)),
            )
            .await?;
        row.map(|row| parse_state(job_id, &Columns::<D>(&row).get_at::<String>(0)?))
            .transpose()
    }

    async fn defer(&self, job_id: Uuid, worker_id: &str, after: Duration) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.defer)
                .param(job_id)
                .param(worker_id)
                .param(lease_ms(after)),
        )
        .await
    }

    async fn revive(&self, tenant: &str, job_id: Uuid) -> Result<bool> {
        self.changed_one(sqlx::query(D::QUERIES.revive).param(job_id).param(tenant))
            .await
    }

    async fn get(&self, job_id: Uuid) -> Result<Option<JobRecord>> {
        self.get_by(sqlx::query(D::QUERIES.get).param(job_id)).await
    }

    async fn get_for_tenant(&self, tenant: &str, job_id: Uuid) -> Result<Option<JobRecord>> {
        self.get_by(
            sqlx::query(D::QUERIES.get_for_tenant)
                .param(job_id)
                .param(tenant),
        )
        .await
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>> {
        let rows = self
            .fetch_all(
                sqlx::query(D::QUERIES.list)
                    .param(filter.state.map(|s| s.as_str()))
                    .param(filter.tenant.as_deref())
                    .param(filter.batch_id)
                    .param(filter.after.map(|c| c.0))
                    .param(i64::from(filter.limit)),
            )
            .await?;
        rows.iter().map(decode_record::<D>).collect()
    }

    async fn counts_by_state(&self, tenant: Option<&str>) -> Result<StateCounts> {
        let rows = self
            .fetch_all(sqlx::query(D::QUERIES.counts).param(tenant))
            .await?;
        let mut counts = StateCounts::default();
        for row in &rows {
            add_count::<D>(&mut counts, row)?;
        }
        Ok(counts)
    }

    async fn batch_counts(&self, tenant: &str, batch_id: Uuid) -> Result<Option<BatchCounts>> {
        let rows = self
            .fetch_all(
                sqlx::query(D::QUERIES.batch_counts)
                    .param(tenant)
                    .param(batch_id),
            )
            .await?;
        let mut out: Option<BatchCounts> = None;
        for row in &rows {
            let first: i64 = Columns::<D>(row).get_at(2)?;
            let batch = out.get_or_insert(BatchCounts {
                counts: StateCounts::default(),
                first_created_at_ms: first,
            });
            add_count::<D>(&mut batch.counts, row)?;
            batch.first_created_at_ms = batch.first_created_at_ms.min(first);
        }
        Ok(out)
    }

    async fn lease_next(
        &self,
        worker_id: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<JobRecord>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let reaped = sqlx::query(D::QUERIES.reap_expired)
            .fetch_all(D::on_connection(&mut tx))
            .await?;
        let rows = sqlx::query(D::QUERIES.claim)
            .param(worker_id)
            .param(lease_ms(lease))
            .param(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_all(D::on_connection(&mut tx))
            .await?;
        tx.commit().await?;
        for row in &reaped {
            let job_id: Uuid = Columns::<D>(row).get_at(0)?;
            tracing::warn!(%job_id, "job dead-lettered: its lease expired after its last attempt");
        }
        let mut jobs = rows
            .iter()
            .map(decode_record::<D>)
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|job| job.seq);
        Ok(jobs)
    }

    async fn lock_document(
        &self,
        doc_id: &str,
        job_id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<DocumentLock> {
        let lease = lease_ms(lease);
        for _ in 0..START_TRIES {
            let taken = self
                .fetch_optional(
                    sqlx::query(D::QUERIES.lock_document)
                        .param(doc_id)
                        .param(job_id)
                        .param(worker_id)
                        .param(lease),
                )
                .await?;
            if taken.is_some() {
                return Ok(DocumentLock::Taken);
            }
            // Refused: say who holds it. Released or expired in between: try again.
            let holder = self
                .fetch_optional(
                    sqlx::query(D::QUERIES.lock_holder)
                        .param(doc_id)
                        .param(job_id),
                )
                .await?;
            if let Some(row) = holder {
                let row = Columns::<D>(&row);
                return Ok(DocumentLock::HeldByOther(LockHolder {
                    job_id: row.get("job_id")?,
                    worker_id: row.get("worker_id")?,
                    lease_expires_at_ms: row.get("lease_expires_at_ms")?,
                }));
            }
        }
        Err(Error::LockContended {
            doc_id: doc_id.to_owned(),
        })
    }

    async fn extend_document_lock(
        &self,
        doc_id: &str,
        job_id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.extend_document_lock)
                .param(doc_id)
                .param(job_id)
                .param(worker_id)
                .param(lease_ms(lease)),
        )
        .await
    }

    async fn unlock_document(&self, doc_id: &str, job_id: Uuid, worker_id: &str) -> Result<bool> {
        self.changed_one(
            sqlx::query(D::QUERIES.unlock_document)
                .param(doc_id)
                .param(job_id)
                .param(worker_id),
        )
        .await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query::<D>("SELECT 1")
            .execute(D::on_pool(&self.pool))
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
