//! `AuditStore` on both databases (the same SQL, `$n` parameters, times passed in).

use async_trait::async_trait;

use super::SqlJobStore;
use crate::audit::{AuditFilter, AuditOutcome, AuditRecord, AuditStore, NewAuditRecord};
use crate::dialect::{Columns, Dialect, Params};
use crate::error::{Error, Result};

fn decode_audit_record<D: Dialect>(row: &D::Row) -> Result<AuditRecord> {
    let r = Columns::<D>(row);
    let seq: i64 = r.get("seq")?;
    let corrupt = |reason: String| Error::CorruptRow {
        job_id: format!("audit record {seq}"),
        reason,
    };
    let outcome: String = r.get("outcome")?;
    let status: Option<i32> = r.get("status")?;
    let record = NewAuditRecord {
        at_ms: r.get("at_ms")?,
        tenant: r.get("tenant")?,
        key_id: r.get("key_id")?,
        action: r.get("action")?,
        target: r.get("target")?,
        request_id: r.get("request_id")?,
        outcome: AuditOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("unknown outcome {outcome:?}")))?,
        status: status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| corrupt(format!("status {status:?}")))?,
        detail: r.get("detail")?,
    };
    Ok(AuditRecord { seq, record })
}

/// The same SQL on both databases (`$n` parameters, times passed in).
#[async_trait]
impl<D: Dialect> AuditStore for SqlJobStore<D> {
    async fn append(&self, record: &NewAuditRecord) -> Result<i64> {
        let row = self
            .fetch_one(
                sqlx::query(
                    "INSERT INTO audit_log \
                     (at_ms, tenant, key_id, action, target, request_id, outcome, status, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
                )
                .param(record.at_ms)
                .param(record.tenant.as_str())
                .param(record.key_id.as_str())
                .param(record.action.as_str())
                .param(record.target.as_deref())
                .param(record.request_id.as_str())
                .param(record.outcome.as_str())
                .param(record.status.map(i32::from))
                .param(record.detail.as_deref()),
            )
            .await?;
        Ok(Columns::<D>(&row).get("seq")?)
    }

    async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT seq, at_ms, tenant, key_id, action, target, request_id, outcome, \
                     status, detail FROM audit_log \
                     WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR seq < $3) AND ($4 IS NULL OR seq > $4) \
                     ORDER BY seq DESC LIMIT $5",
                )
                .param(filter.tenant.as_deref())
                .param(filter.action.as_deref())
                .param(filter.before_seq)
                .param(filter.after_seq)
                .param(i64::from(filter.limit)),
            )
            .await?;
        rows.iter().map(decode_audit_record::<D>).collect()
    }
}
