//! `DELETE /v1/documents/{doc_id}`: removes the document's vectors, its artifacts (every version
//! under `<tenant>/<doc_id>/`) and, when it came in as an upload, the uploaded file. Scoped to the
//! caller's tenant: another tenant's document answers 404, like a missing one. A job of the
//! document still running may write it again: delete once its jobs are done.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;

use super::ApiState;
use super::audit::AuditSlot;
use super::auth::Caller;
use super::index::index_problem;
use super::problem::{Problem, rejection};
use crate::wiring::IndexAccess;

#[derive(Debug, Serialize)]
pub struct Deleted {
    doc_id: String,
    points_deleted: u64,
    /// Artifacts, and the uploaded source if there was one.
    objects_deleted: u64,
}

/// Doc ids are 32 lowercase hex digits (a hash of tenant and source).
pub fn check_doc_id(doc_id: &str) -> Result<(), Problem> {
    let ok = doc_id.len() == 32
        && doc_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "{doc_id:?} is not a doc id (32 lowercase hex digits, as in search results)"
        )))
    }
}

pub async fn delete_document(
    State(s): State<ApiState>,
    caller: Caller,
    audit: AuditSlot,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Deleted>, Problem> {
    let Path(doc_id) = path.map_err(rejection)?;
    check_doc_id(&doc_id)?;
    audit.target(doc_id.clone());
    let tenant = &caller.tenant;
    let store_problem = |e: docfleet_pipeline::Error| {
        Problem::unavailable("deleting the artifacts failed", e.report())
    };

    let objects = crate::documents::stored_document(s.objects.as_ref(), tenant, &doc_id)
        .await
        .map_err(store_problem)?
        .objects;

    // Every model's index: a profile that changed model leaves the older model's vectors.
    let mut points_deleted = 0;
    for model in s.index.indexed_models()? {
        let index = s.index.open(IndexAccess::Write, &model).await?;
        points_deleted += index
            .delete_doc(tenant, &doc_id)
            .await
            .map_err(|e| index_problem("deleting the points failed", &anyhow::Error::from(e)))?;
    }
    if points_deleted == 0 && objects.is_empty() {
        return Err(Problem::not_found(format!("no document {doc_id}")));
    }
    // Vectors first: once they are gone the document is out of search, whatever happens next.
    s.objects.delete(&objects).await.map_err(store_problem)?;
    Ok(Json(Deleted {
        doc_id,
        points_deleted,
        objects_deleted: objects.len() as u64,
    }))
}
