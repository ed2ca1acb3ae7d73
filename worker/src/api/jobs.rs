//! `/v1/jobs` and `/v1/batches`: submit and read, always within the caller's tenant (another
//! tenant's job or batch answers 404, exactly as a missing one).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use docfleet_core::job::{JobMessage, JobOptions};
use docfleet_core::time::now_unix_millis;
use docfleet_jobstore::{JobCursor, JobRecord, JobState, ListFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ApiState;
use super::audit::AuditSlot;
use super::auth::Caller;
use super::problem::{Problem, rejection};
use super::upload::store_upload;
use crate::commands::enqueue::{sources, submit};
use crate::profile::ActiveProfile;

/// Jobs one batch request may create.
const MAX_BATCH_JOBS: usize = 10_000;
const MAX_PAGE: u32 = 500;
/// Namespace of job and batch ids derived from an `Idempotency-Key`.
const IDEMPOTENCY_NS: Uuid = Uuid::from_u128(0x6d1f_0c2e_9a4b_4f0e_8c53_d0cf_1ee7_0002);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `s3://bucket/key` (or `file:///path` where the API allows it).
    source: String,
    #[serde(default)]
    options: JobOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[serde(default)]
    uris: Vec<String>,
    /// `s3://bucket/prefix/`: every object under it.
    prefix: Option<String>,
    #[serde(default)]
    options: JobOptions,
    /// Notified once (`batch.completed`) when every job of the batch has succeeded or is dead.
    callback_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct Accepted {
    job_id: Uuid,
    source: String,
    state: JobState,
    status_url: String,
}

#[derive(Debug, Serialize)]
struct BatchAccepted {
    batch_id: Uuid,
    status_url: String,
    jobs: Vec<Accepted>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<JobState>,
    batch: Option<Uuid>,
    limit: Option<u32>,
    cursor: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct JobPage {
    jobs: Vec<JobRecord>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct BatchProgress {
    batch_id: Uuid,
    total: u64,
    queued: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
    dead: u64,
    /// Seconds until the rest is done at the rate so far; absent until a job has finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    eta_secs: Option<u64>,
}

/// The `Idempotency-Key` header, if any (1-255 visible ASCII characters).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.trim() == k => Ok(Some(k.to_owned())),
        _ => Err(Problem::bad_request(
            "Idempotency-Key must be 1-255 visible ASCII characters (inner spaces allowed)",
        )),
    }
}

fn derived_id(tenant: &str, key: &str, what: &str) -> Uuid {
    Uuid::new_v5(
        &IDEMPOTENCY_NS,
        format!("{tenant}\0{what}\0{key}").as_bytes(),
    )
}

/// `batch_callback_url` travels in the options but only the batch's `callback_url` sets it.
fn check_options(options: &JobOptions) -> Result<(), Problem> {
    match options.batch_callback_url {
        Some(_) => Err(Problem::bad_request(
            "options.batch_callback_url is not an option: give the batch a `callback_url`",
        )),
        None => Ok(()),
    }
}

/// A validated message for one source of the caller's.
fn message(
    s: &ApiState,
    profile: Option<&ActiveProfile>,
    tenant: &str,
    source: &str,
    options: &JobOptions,
) -> Result<JobMessage, Problem> {
    s.sources.check(tenant, source)?;
    if let Some(active) = profile
        && !active.profile.allows_source(source)
    {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "{source} is not under the allowed source prefixes of the tenant's profile (v{})",
                active.version
            ),
        ));
    }
    JobMessage::new(tenant, source, options.clone())
        .map_err(|e| Problem::bad_request(e.to_string()))
}

async fn submit_one(
    s: &ApiState,
    msg: &JobMessage,
    batch: Option<Uuid>,
) -> Result<Accepted, Problem> {
    let state = submit(s.store.as_ref(), s.producer.as_deref(), msg, batch)
        .await
        .map_err(|e| Problem::unavailable("submitting the job failed", format!("{e:#}")))?;
    Ok(Accepted {
        job_id: msg.job_id,
        source: msg.source.clone(),
        state,
        status_url: format!("/v1/jobs/{}", msg.job_id),
    })
}

fn accepted(body: &impl Serialize, location: &str, replayed: bool) -> Response {
    let mut r = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// POST /v1/jobs: JSON `{source, options}`, or a multipart upload (`file`, `options`).
pub async fn submit_job(
    State(s): State<ApiState>,
    caller: Caller,
    audit: AuditSlot,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut msg = if content_type.starts_with("multipart/form-data") {
        let form = Multipart::from_request(req, &s).await.map_err(rejection)?;
        let (source, options) = store_upload(&s, &caller.tenant, form).await?;
        check_options(&options)?;
        // Our own object: allowed whatever the file-source setting.
        JobMessage::new(&caller.tenant, &source, options)
            .map_err(|e| Problem::bad_request(e.to_string()))?
    } else {
        let req = json_body::<JobRequest>(&s, content_type, req).await?;
        check_options(&req.options)?;
        let profile = super::profile::current(&s, &caller.tenant).await?;
        message(
            &s,
            profile.as_deref(),
            &caller.tenant,
            &req.source,
            &req.options,
        )?
    };
    let mut replayed = false;
    if let Some(key) = idempotency_key(&headers)? {
        msg.job_id = derived_id(&caller.tenant, &key, "job");
        let existing = s
            .store
            .get_for_tenant(&caller.tenant, msg.job_id)
            .await
            .map_err(|e| Problem::unavailable("reading the job failed", e))?;
        if let Some(row) = existing {
            let same = row.source == msg.source
                && serde_json::to_value(&msg.options).ok() == Some(row.options.clone());
            if !same {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "this Idempotency-Key was used for a different request",
                ));
            }
            replayed = true;
        }
    }
    audit.target(msg.job_id.to_string());
    let job = submit_one(&s, &msg, None).await?;
    let location = job.status_url.clone();
    Ok(accepted(&job, &location, replayed))
}

/// A JSON body within the API's JSON limit (the route itself admits uploads up to the larger
/// upload limit).
async fn json_body<T: serde::de::DeserializeOwned>(
    s: &ApiState,
    content_type: &str,
    req: Request,
) -> Result<T, Problem> {
    if !content_type.starts_with("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json, or multipart/form-data with a `file` part",
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), s.max_body_bytes)
        .await
        .map_err(|e| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {} bytes: {e}", s.max_body_bytes),
            )
        })?;
    Json::<T>::from_bytes(&bytes)
        .map(|Json(v)| v)
        .map_err(rejection)
}

/// POST /v1/batches
pub async fn submit_batch(
    State(s): State<ApiState>,
    caller: Caller,
    audit: AuditSlot,
    headers: HeaderMap,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(rejection)?;
    let mut uris = req.uris;
    if let Some(prefix) = &req.prefix {
        if !prefix.starts_with("s3://") {
            return Err(Problem::bad_request("prefix must be s3://bucket/prefix/"));
        }
        s.sources.check(&caller.tenant, prefix)?;
        let listed = sources(&s.common, std::slice::from_ref(prefix))
            .await
            .map_err(|e| listing_problem(&e))?;
        uris.extend(listed);
    }
    if uris.is_empty() {
        return Err(Problem::bad_request(
            "give `uris` or a `prefix` with at least one document",
        ));
    }
    if uris.len() > MAX_BATCH_JOBS {
        return Err(Problem::bad_request(format!(
            "{} documents: a batch holds at most {MAX_BATCH_JOBS}",
            uris.len()
        )));
    }
    let key = idempotency_key(&headers)?;
    let batch_id = key
        .as_deref()
        .map_or_else(Uuid::new_v4, |k| derived_id(&caller.tenant, k, "batch"));
    audit.target(batch_id.to_string());
    check_options(&req.options)?;
    let options = JobOptions {
        batch_callback_url: req.callback_url.clone(),
        ..req.options
    };
    // Every source is checked before any job is created.
    let profile = super::profile::current(&s, &caller.tenant).await?;
    let mut msgs = Vec::with_capacity(uris.len());
    for uri in &uris {
        let mut msg = message(&s, profile.as_deref(), &caller.tenant, uri, &options)?;
        if key.is_some() {
            msg.job_id = Uuid::new_v5(&batch_id, uri.as_bytes());
        }
        msgs.push(msg);
    }
    let mut jobs = Vec::with_capacity(msgs.len());
    for msg in &msgs {
        jobs.push(submit_one(&s, msg, Some(batch_id)).await?);
    }
    let out = BatchAccepted {
        batch_id,
        status_url: format!("/v1/batches/{batch_id}"),
        jobs,
    };
    let location = out.status_url.clone();
    Ok(accepted(&out, &location, false))
}

/// A prefix that could not be listed: the store being unavailable is 503; anything else (no
/// such bucket, nothing under the prefix, access denied) is the request's 404.
fn listing_problem(e: &anyhow::Error) -> Problem {
    let unavailable = e
        .chain()
        .filter_map(|c| c.downcast_ref::<docfleet_pipeline::Error>())
        .any(docfleet_pipeline::Error::is_retryable);
    if unavailable {
        Problem::unavailable("listing the prefix failed", format!("{e:#}"))
    } else {
        Problem::not_found(format!("{e:#}"))
    }
}

/// GET /v1/jobs/{job_id}
pub async fn get_job(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<JobRecord>, Problem> {
    let Path(job_id) = id.map_err(rejection)?;
    s.store
        .get_for_tenant(&caller.tenant, job_id)
        .await
        .map_err(|e| Problem::unavailable("reading the job failed", e))?
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no job {job_id}")))
}

/// GET /v1/jobs?state=&batch=&limit=&cursor=
pub async fn list_jobs(
    State(s): State<ApiState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobPage>, Problem> {
    let Query(q) = query.map_err(rejection)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    let jobs = s
        .store
        .list(&ListFilter {
            state: q.state,
            tenant: Some(caller.tenant),
            batch_id: q.batch,
            after: q.cursor.map(JobCursor),
            limit,
        })
        .await
        .map_err(|e| Problem::unavailable("listing jobs failed", e))?;
    let next_cursor = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|j| j.seq))
        .flatten();
    Ok(Json(JobPage { jobs, next_cursor }))
}

/// GET /v1/batches/{batch_id}
pub async fn get_batch(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<BatchProgress>, Problem> {
    let Path(batch_id) = id.map_err(rejection)?;
    let Some(batch) = s
        .store
        .batch_counts(&caller.tenant, batch_id)
        .await
        .map_err(|e| Problem::unavailable("reading the batch failed", e))?
    else {
        return Err(Problem::not_found(format!("no batch {batch_id}")));
    };
    let (counts, first_created_ms) = (batch.counts, batch.first_created_at_ms);
    let total = counts.total();
    let finished = counts.succeeded + counts.dead;
    let elapsed_ms = (now_unix_millis() as i64 - first_created_ms).max(0) as u64;
    let eta_secs = (finished > 0 && finished < total)
        .then(|| elapsed_ms * (total - finished) / finished / 1000);
    Ok(Json(BatchProgress {
        batch_id,
        total,
        queued: counts.queued,
        running: counts.running,
        succeeded: counts.succeeded,
        failed: counts.failed,
        dead: counts.dead,
        eta_secs,
    }))
}
