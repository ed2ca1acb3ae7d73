//! `GET /v1/audit`: the caller's tenant's audit records, newest first, for admin keys. The
//! records are written by the middleware in `audit.rs`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use docfleet_jobstore::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Admin;
use super::problem::{Problem, rejection};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
const MAX_ACTION_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
    /// Only records older than this seq (the previous page's `next_before`).
    before: Option<i64>,
    action: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    records: Vec<AuditRecord>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// GET /v1/audit?limit=&before=&action=
pub async fn list_audit(
    State(s): State<ApiState>,
    Admin(caller): Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, Problem> {
    let Query(q) = query.map_err(rejection)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    if let Some(a) = &q.action
        && (a.is_empty() || a.len() > MAX_ACTION_CHARS)
    {
        return Err(Problem::bad_request(format!(
            "action must be 1-{MAX_ACTION_CHARS} characters, e.g. job.submit"
        )));
    }
    let records = s
        .store
        .audit()
        .list(&AuditFilter {
            tenant: Some(caller.tenant),
            action: q.action,
            before_seq: q.before,
            after_seq: None,
            limit,
        })
        .await
        .map_err(|e| Problem::unavailable("reading the audit trail failed", e))?;
    let next_before = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        records,
        next_before,
    }))
}
