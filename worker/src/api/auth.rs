//! The caller's tenant, from `Authorization: Bearer dfk_…` (or `X-Api-Key: dfk_…`). Every handler
//! that takes a [`Caller`] is scoped to that tenant; a missing, unknown, revoked or wrong key is
//! 401 with no hint which.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use tracing::debug;

use docfleet_jobstore::KeyRole;

use super::ApiState;
use super::audit::AuditSlot;
use super::problem::Problem;
use crate::auth::verify;

#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    /// The key's public id (audit records name it).
    pub key_id: String,
    pub role: KeyRole,
}

/// A [`Caller`] whose key is an admin key; a member key is 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role != KeyRole::Admin {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "this needs an admin key (docfleet keys create <tenant> --admin)",
            ));
        }
        Ok(Admin(caller))
    }
}

fn presented(parts: &Parts) -> Option<&str> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Problem> {
        let unauthorized = || {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "a valid API key is required: Authorization: Bearer dfk_…",
            )
        };
        let token = presented(parts).ok_or_else(unauthorized)?;
        match verify(state.store.tenants(), &state.pepper, token.trim()).await {
            Ok(Ok(key)) => {
                // An audited route's record names the caller from here on.
                if let Some(slot) = AuditSlot::of(parts) {
                    slot.caller(&key.tenant, &key.key_id);
                }
                Ok(Caller {
                    tenant: key.tenant,
                    key_id: key.key_id,
                    role: key.role,
                })
            }
            Ok(Err(why)) => {
                debug!(%why, "API key refused");
                Err(unauthorized())
            }
            Err(e) => Err(Problem::unavailable("checking the API key failed", e)),
        }
    }
}
