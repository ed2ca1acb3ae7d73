//! The `JobStore` implementation shared by both adapters. The SQL is in `sql.rs`; the Rust
//! around it is the same for both drivers but sqlx's row and executor types are per driver, so
//! it is written once here as a macro and expanded for each adapter (generic code over
//! `sqlx::Database` would need a dozen `Encode`/`Decode`/`Executor` bounds per function).
//!
//! An adapter provides a `pool` field, a `max_attempts: i32` field and
//! `async fn begin_write(&self) -> Result<sqlx::Transaction<'static, DB>>`, the transaction
//! that makes `lease_next` atomic.

use std::time::Duration;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::JobState;

/// Leases longer than this are cut to it (keeps `now + lease` far from overflow).
const MAX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);

pub(crate) fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn parse_state(job_id: Uuid, text: &str) -> Result<JobState> {
    text.parse().map_err(|reason| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason,
    })
}

/// A non-negative integer column as `u64`; a negative one is a corrupt row.
pub(crate) fn unsigned(job_id: Uuid, column: &str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason: format!("negative {column}: {n}"),
    })
}

pub(crate) fn count(job_id: Uuid, column: &str, n: Option<i64>) -> Result<Option<u64>> {
    n.map(|n| unsigned(job_id, column, n)).transpose()
}

pub(crate) fn small(job_id: Uuid, column: &str, n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::CorruptRow {
        job_id: job_id.to_string(),
        reason: format!("negative {column}: {n}"),
    })
}

/// Decodes a row of `columns!()` into a `JobRecord` (expands per driver).
macro_rules! decode_record {
    ($row:expr) => {{
        use sqlx::Row as _;
        use sqlx::types::Json;
        let row = $row;
        (|| -> $crate::error::Result<$crate::model::JobRecord> {
            use $crate::shared::{count, parse_state, small};
            let job_id: uuid::Uuid = row.try_get("job_id")?;
            let state: String = row.try_get("state")?;
            Ok($crate::model::JobRecord {
                job_id,
                tenant: row.try_get("tenant")?,
                source: row.try_get("source")?,
                options: row.try_get::<Json<serde_json::Value>, _>("options")?.0,
                batch_id: row.try_get("batch_id")?,
                submitted_at_ms: row.try_get("submitted_at_ms")?,
                state: parse_state(job_id, &state)?,
                attempts: small(job_id, "attempts", row.try_get("attempts")?)?,
                max_attempts: small(job_id, "max_attempts", row.try_get("max_attempts")?)?,
                worker_id: row.try_get("worker_id")?,
                lease_expires_at_ms: row.try_get("lease_expires_at_ms")?,
                created_at_ms: row.try_get("created_at_ms")?,
                updated_at_ms: row.try_get("updated_at_ms")?,
                started_at_ms: row.try_get("started_at_ms")?,
                finished_at_ms: row.try_get("finished_at_ms")?,
                timings: row.try_get::<Option<Json<_>>, _>("timings")?.map(|j| j.0),
                pages: count(job_id, "pages", row.try_get("pages")?)?,
                chunks: count(job_id, "chunks", row.try_get("chunks")?)?,
                points: count(job_id, "points", row.try_get("points")?)?,
                artifacts: row.try_get::<Option<Json<_>>, _>("artifacts")?.map(|j| j.0),
                error: row.try_get("error")?,
                profile_version: row.try_get("profile_version")?,
                pii_counts: row
                    .try_get::<Option<Json<_>>, _>("pii_counts")?
                    .map(|j| j.0),
                trace: docfleet_queue::TraceContext::from_values(
                    row.try_get("traceparent")?,
                    row.try_get("tracestate")?,
                ),
                seq: row.try_get("seq")?,
            })
        })()
    }};
}

/// How often `start` (and `lock_document`) re-reads a row that changed between its update and
/// its probe.
pub(crate) const START_TRIES: usize = 5;

macro_rules! impl_job_store {
    ($store:ty, $q:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::JobStore for $store {
            fn tenants(&self) -> &dyn $crate::tenants::TenantStore {
                self
            }

            fn audit(&self) -> &dyn $crate::audit::AuditStore {
                self
            }

            async fn create_in_batch(
                &self,
                msg: &docfleet_core::job::JobMessage,
                batch_id: Option<uuid::Uuid>,
                trace: &docfleet_queue::TraceContext,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.create)
                    .bind(msg.job_id)
                    .bind(&msg.tenant)
                    .bind(&msg.source)
                    .bind(sqlx::types::Json(&msg.options))
                    .bind($crate::shared::to_i64(msg.submitted_at_unix_ms))
                    .bind(self.max_attempts)
                    .bind(batch_id)
                    .bind(&trace.traceparent)
                    .bind(&trace.tracestate)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn start(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                lease: std::time::Duration,
            ) -> $crate::error::Result<$crate::model::StartOutcome> {
                use $crate::model::{JobState, StartOutcome};
                use sqlx::Row as _;
                let lease = $crate::shared::lease_ms(lease);
                for _ in 0..$crate::shared::START_TRIES {
                    let taken = sqlx::query($q.start)
                        .bind(job_id)
                        .bind(worker_id)
                        .bind(lease)
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some(row) = taken {
                        return Ok(StartOutcome::Started(Box::new(decode_record!(&row)?)));
                    }
                    let Some(row) = sqlx::query($q.probe)
                        .bind(job_id)
                        .fetch_optional(&self.pool)
                        .await?
                    else {
                        return Ok(StartOutcome::NotFound);
                    };
                    let state = $crate::shared::parse_state(job_id, row.try_get("state")?)?;
                    let holder: Option<String> = row.try_get("worker_id")?;
                    let expires: Option<i64> = row.try_get("lease_expires_at_ms")?;
                    match (state, holder, expires) {
                        (s, _, _) if s.is_finished() => {
                            return Ok(StartOutcome::AlreadyFinished(s));
                        }
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
                Err($crate::error::Error::Contended { job_id })
            }

            async fn extend_lease(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                lease: std::time::Duration,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.extend_lease)
                    .bind(job_id)
                    .bind(worker_id)
                    .bind($crate::shared::lease_ms(lease))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn succeed(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                outcome: &$crate::model::JobOutcome,
            ) -> $crate::error::Result<bool> {
                use $crate::shared::to_i64;
                let done = sqlx::query($q.succeed)
                    .bind(job_id)
                    .bind(worker_id)
                    .bind(sqlx::types::Json(&outcome.timings))
                    .bind(to_i64(outcome.pages))
                    .bind(to_i64(outcome.chunks))
                    .bind(to_i64(outcome.points))
                    .bind(sqlx::types::Json(&outcome.artifacts))
                    .bind(outcome.profile_version)
                    .bind(outcome.pii_counts.as_ref().map(sqlx::types::Json))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn fail(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                error: &str,
                terminal: bool,
                retry_after: std::time::Duration,
            ) -> $crate::error::Result<Option<$crate::model::JobState>> {
                use sqlx::Row as _;
                let row = sqlx::query($q.fail)
                    .bind(job_id)
                    .bind(worker_id)
                    .bind(error)
                    .bind(terminal)
                    .bind($crate::shared::lease_ms(retry_after))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| $crate::shared::parse_state(job_id, row.try_get(0)?))
                    .transpose()
            }

            async fn defer(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                after: std::time::Duration,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.defer)
                    .bind(job_id)
                    .bind(worker_id)
                    .bind($crate::shared::lease_ms(after))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revive(
                &self,
                tenant: &str,
                job_id: uuid::Uuid,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.revive)
                    .bind(job_id)
                    .bind(tenant)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get(
                &self,
                job_id: uuid::Uuid,
            ) -> $crate::error::Result<Option<$crate::model::JobRecord>> {
                let row = sqlx::query($q.get)
                    .bind(job_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| decode_record!(&row)).transpose()
            }

            async fn get_for_tenant(
                &self,
                tenant: &str,
                job_id: uuid::Uuid,
            ) -> $crate::error::Result<Option<$crate::model::JobRecord>> {
                let row = sqlx::query($q.get_for_tenant)
                    .bind(job_id)
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| decode_record!(&row)).transpose()
            }

            async fn list(
                &self,
                filter: &$crate::model::ListFilter,
            ) -> $crate::error::Result<Vec<$crate::model::JobRecord>> {
                let rows = sqlx::query($q.list)
                    .bind(filter.state.map(|s| s.as_str()))
                    .bind(filter.tenant.as_deref())
                    .bind(filter.batch_id)
                    .bind(filter.after.map(|c| c.0))
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|row| decode_record!(row)).collect()
            }

            async fn counts_by_state(
                &self,
                tenant: Option<&str>,
            ) -> $crate::error::Result<$crate::model::StateCounts> {
                use sqlx::Row as _;
                let rows = sqlx::query($q.counts)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                let mut counts = $crate::model::StateCounts::default();
                for row in rows {
                    let state: String = row.try_get(0)?;
                    let state = $crate::shared::parse_state(uuid::Uuid::nil(), &state)?;
                    let n: i64 = row.try_get(1)?;
                    *counts.slot(state) = u64::try_from(n).unwrap_or(0);
                }
                Ok(counts)
            }

            async fn batch_counts(
                &self,
                tenant: &str,
                batch_id: uuid::Uuid,
            ) -> $crate::error::Result<Option<$crate::model::BatchCounts>> {
                use sqlx::Row as _;
                let rows = sqlx::query($q.batch_counts)
                    .bind(tenant)
                    .bind(batch_id)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out: Option<$crate::model::BatchCounts> = None;
                for row in rows {
                    let state: String = row.try_get(0)?;
                    let state = $crate::shared::parse_state(uuid::Uuid::nil(), &state)?;
                    let n: i64 = row.try_get(1)?;
                    let first: i64 = row.try_get(2)?;
                    let b = out.get_or_insert($crate::model::BatchCounts {
                        counts: $crate::model::StateCounts::default(),
                        first_created_at_ms: first,
                    });
                    *b.counts.slot(state) = u64::try_from(n).unwrap_or(0);
                    b.first_created_at_ms = b.first_created_at_ms.min(first);
                }
                Ok(out)
            }

            async fn lease_next(
                &self,
                worker_id: &str,
                max: usize,
                lease: std::time::Duration,
            ) -> $crate::error::Result<Vec<$crate::model::JobRecord>> {
                use sqlx::Row as _;
                if max == 0 {
                    return Ok(Vec::new());
                }
                let mut tx = self.begin_write().await?;
                let reaped = sqlx::query($q.reap_expired).fetch_all(&mut *tx).await?;
                let rows = sqlx::query($q.claim)
                    .bind(worker_id)
                    .bind($crate::shared::lease_ms(lease))
                    .bind(i64::try_from(max).unwrap_or(i64::MAX))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                for row in &reaped {
                    let job_id: uuid::Uuid = row.try_get(0)?;
                    tracing::warn!(%job_id, "job dead-lettered: its lease expired after its last attempt");
                }
                let mut jobs = rows
                    .iter()
                    .map(|row| decode_record!(row))
                    .collect::<$crate::error::Result<Vec<_>>>()?;
                jobs.sort_by_key(|job| job.seq);
                Ok(jobs)
            }

            async fn lock_document(
                &self,
                doc_id: &str,
                job_id: uuid::Uuid,
                worker_id: &str,
                lease: std::time::Duration,
            ) -> $crate::error::Result<$crate::model::DocumentLock> {
                use sqlx::Row as _;
                let lease = $crate::shared::lease_ms(lease);
                for _ in 0..$crate::shared::START_TRIES {
                    let taken = sqlx::query($q.lock_document)
                        .bind(doc_id)
                        .bind(job_id)
                        .bind(worker_id)
                        .bind(lease)
                        .fetch_optional(&self.pool)
                        .await?;
                    if taken.is_some() {
                        return Ok($crate::model::DocumentLock::Taken);
                    }
                    // Refused: say who holds it. Released or expired in between: try again.
                    let holder = sqlx::query($q.lock_holder)
                        .bind(doc_id)
                        .bind(job_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some(row) = holder {
                        return Ok($crate::model::DocumentLock::HeldByOther(
                            $crate::model::LockHolder {
                                job_id: row.try_get("job_id")?,
                                worker_id: row.try_get("worker_id")?,
                                lease_expires_at_ms: row.try_get("lease_expires_at_ms")?,
                            },
                        ));
                    }
                }
                Err($crate::error::Error::LockContended {
                    doc_id: doc_id.to_owned(),
                })
            }

            async fn extend_document_lock(
                &self,
                doc_id: &str,
                job_id: uuid::Uuid,
                worker_id: &str,
                lease: std::time::Duration,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.extend_document_lock)
                    .bind(doc_id)
                    .bind(job_id)
                    .bind(worker_id)
                    .bind($crate::shared::lease_ms(lease))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn unlock_document(
                &self,
                doc_id: &str,
                job_id: uuid::Uuid,
                worker_id: &str,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($q.unlock_document)
                    .bind(doc_id)
                    .bind(job_id)
                    .bind(worker_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn ping(&self) -> $crate::error::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

pub(crate) fn max_attempts(options: &crate::model::StoreOptions) -> i32 {
    i32::try_from(options.max_attempts.max(1)).unwrap_or(i32::MAX)
}
