//! `GET/PUT /v1/profile`: the caller's tenant's profile, for admin keys. A PUT stores a new
//! version (JSON, or TOML as `application/toml`); workers apply it within the profile TTL.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use docfleet_jobstore::now_ms;
use serde::Serialize;

use super::ApiState;
use super::audit::AuditSlot;
use super::auth::Admin;
use super::problem::Problem;
use crate::profile::{ActiveProfile, Profile};

#[derive(Debug, Serialize)]
pub struct ProfileView {
    tenant: String,
    version: i64,
    created_at_ms: i64,
    created_by: String,
    /// The webhook secret shows as `***`.
    profile: Profile,
}

/// The tenant's current profile (cached for the profile TTL); a store failure is 503.
pub async fn current(s: &ApiState, tenant: &str) -> Result<Option<Arc<ActiveProfile>>, Problem> {
    s.profiles
        .get(tenant)
        .await
        .map_err(|e| Problem::unavailable("reading the tenant's profile failed", format!("{e:#}")))
}

/// GET /v1/profile
pub async fn get_profile(
    State(s): State<ApiState>,
    Admin(caller): Admin,
) -> Result<Json<ProfileView>, Problem> {
    let record = s
        .store
        .tenants()
        .profile(&caller.tenant)
        .await
        .map_err(|e| Problem::unavailable("reading the profile failed", e))?
        .ok_or_else(|| {
            Problem::not_found("this tenant has no profile: the fleet's settings apply")
        })?;
    let profile = Profile::from_json(&record.document)
        .map_err(|e| Problem::unavailable("the stored profile is unreadable", format!("{e:#}")))?;
    Ok(Json(ProfileView {
        tenant: record.tenant,
        version: record.version,
        created_at_ms: record.created_at_ms,
        created_by: record.created_by,
        profile: profile.redacted(),
    }))
}

/// PUT /v1/profile
pub async fn put_profile(
    State(s): State<ApiState>,
    Admin(caller): Admin,
    audit: AuditSlot,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::bad_request("the profile is not UTF-8 text"))?;
    let parsed = if content_type.starts_with("application/toml") {
        Profile::from_toml(text)
    } else if content_type.starts_with("application/json") {
        Profile::from_json(text)
    } else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the profile as application/json or application/toml",
        ));
    };
    let profile = parsed.map_err(|e| invalid(format!("{e:#}")))?;
    if let Some(model) = &profile.model {
        let known = s
            .common
            .model_names()
            .map_err(|e| Problem::unavailable("reading the fleet's models failed", e))?;
        if !known.contains(model) {
            return Err(invalid(format!(
                "model: {model:?} is not one of this fleet's models ({})",
                known.join(", ")
            )));
        }
    }
    let version = s
        .store
        .tenants()
        .put_profile(
            &caller.tenant,
            &profile.to_json(),
            &format!("key:{}", caller.key_id),
            now_ms(),
        )
        .await
        .map_err(|e| Problem::unavailable("storing the profile failed", e))?
        .ok_or_else(|| Problem::not_found("the caller's tenant no longer exists"))?;
    s.profiles.invalidate(&caller.tenant);
    audit.target(format!("profile v{version}"));
    let out = serde_json::json!({"tenant": caller.tenant, "version": version});
    Ok((StatusCode::OK, Json(out)))
}

fn invalid(detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
}
