//! `/v1/keys`: an admin key manages its own tenant's API keys. Create (the token is in the
//! answer once, only its hash is stored), list (never secrets), revoke. Another tenant's key id
//! answers 404, like a missing one, and is never revoked.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docfleet_jobstore::{ApiKeyRecord, KeyRole, now_ms};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::audit::AuditSlot;
use super::auth::Admin;
use super::problem::{Problem, rejection};
use crate::auth::new_key;

const MAX_LABEL_CHARS: usize = 200;
/// Longest key id looked up (ours are 12 hex digits).
const MAX_KEY_ID_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    #[serde(default)]
    label: String,
    #[serde(default)]
    role: KeyRole,
}

#[derive(Debug, Serialize)]
struct CreatedKey {
    /// The whole key (`dfk_…`): shown here once, never again.
    key: String,
    key_id: String,
    tenant: String,
    label: String,
    role: KeyRole,
    created_at_ms: i64,
}

#[derive(Debug, Serialize)]
pub struct KeyList {
    keys: Vec<ApiKeyRecord>,
}

/// POST /v1/keys
pub async fn create_key(
    State(s): State<ApiState>,
    Admin(caller): Admin,
    audit: AuditSlot,
    body: Result<Json<KeyRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(rejection)?;
    if req.label.chars().count() > MAX_LABEL_CHARS || req.label.chars().any(char::is_control) {
        return Err(Problem::bad_request(format!(
            "label must be at most {MAX_LABEL_CHARS} characters, none of them control characters"
        )));
    }
    let key = new_key(&s.pepper, &caller.tenant, &req.label, req.role, now_ms());
    audit.target(key.record.key_id.clone());
    let added = s
        .store
        .tenants()
        .add_key(&key.record)
        .await
        .map_err(|e| Problem::unavailable("storing the key failed", e))?;
    if !added {
        // The caller's key was just verified, so its tenant exists; unless it was removed since.
        return Err(Problem::not_found(format!("no tenant {}", caller.tenant)));
    }
    let out = CreatedKey {
        key: key.token,
        key_id: key.record.key_id,
        tenant: key.record.tenant,
        label: key.record.label,
        role: key.record.role,
        created_at_ms: key.record.created_at_ms,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// GET /v1/keys: the tenant's keys, newest first, revoked ones included.
pub async fn list_keys(
    State(s): State<ApiState>,
    Admin(caller): Admin,
) -> Result<Json<KeyList>, Problem> {
    let keys = s
        .store
        .tenants()
        .list_keys(Some(&caller.tenant))
        .await
        .map_err(|e| Problem::unavailable("listing the keys failed", e))?;
    Ok(Json(KeyList { keys }))
}

/// DELETE /v1/keys/{key_id}: revokes one of the tenant's active keys.
pub async fn revoke_key(
    State(s): State<ApiState>,
    Admin(caller): Admin,
    audit: AuditSlot,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ApiKeyRecord>, Problem> {
    let Path(key_id) = path.map_err(rejection)?;
    let no_such_key = || Problem::not_found(format!("no active key {key_id}"));
    let plausible = !key_id.is_empty()
        && key_id.len() <= MAX_KEY_ID_CHARS
        && key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !plausible {
        return Err(no_such_key());
    }
    audit.target(key_id.clone());
    let t = s.store.tenants();
    let unavailable = |e| Problem::unavailable("revoking the key failed", e);
    let key = t.key(&key_id).await.map_err(unavailable)?;
    // A key's tenant never changes: checked once, it holds for the revoke below.
    if key.as_ref().is_none_or(|k| k.tenant != caller.tenant) {
        return Err(no_such_key());
    }
    if !t.revoke_key(&key_id, now_ms()).await.map_err(unavailable)? {
        return Err(no_such_key());
    }
    t.key(&key_id)
        .await
        .map_err(unavailable)?
        .map(Json)
        .ok_or_else(no_such_key)
}
