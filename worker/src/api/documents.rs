//! `DELETE /v1/documents/{doc_id}`: removes the document's vectors, its artifacts (every version
//! under `<tenant>/<doc_id>/`) and, when it came in as an upload, the uploaded file. Scoped to the
//! caller's tenant: another tenant's document answers 404, like a missing one. A job of the
//! document still running may write it again: delete once its jobs are done.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use docfleet_pipeline::artifacts::{MANIFEST_FILE, Manifest};
use docfleet_pipeline::store::ObjectKey;
use serde::Serialize;

use super::ApiState;
use super::auth::Caller;
use super::index::index_problem;
use super::problem::{Problem, rejection};
use crate::app::IndexAccess;

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
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Deleted>, Problem> {
    let Path(doc_id) = path.map_err(rejection)?;
    check_doc_id(&doc_id)?;
    let tenant = &caller.tenant;
    let store_problem =
        |e: docfleet_pipeline::Error| Problem::unavailable("deleting the artifacts failed", e);

    let prefix = ObjectKey::new(format!("{tenant}/{doc_id}")).map_err(store_problem)?;
    let mut objects = s.objects.list(&prefix).await.map_err(store_problem)?;
    // The uploaded source, named by the manifests: only ever one of this tenant's uploads.
    let uploads = format!("{tenant}/_uploads/");
    let mut sources = Vec::new();
    for key in objects
        .iter()
        .filter(|k| k.as_str().ends_with(MANIFEST_FILE))
    {
        let bytes = s.objects.get(key).await.map_err(store_problem)?;
        if let Ok(m) = serde_json::from_slice::<Manifest>(&bytes)
            && let Some(src) = s.objects.key_of_source(&m.source)
            && src.as_str().starts_with(&uploads)
        {
            sources.push(src);
        }
    }
    sources.sort();
    sources.dedup();
    objects.extend(sources);

    let index = s.index.open(IndexAccess::Write).await?;
    let points_deleted = index
        .delete_doc(tenant, &doc_id)
        .await
        .map_err(|e| index_problem("deleting the points failed", &anyhow::Error::from(e)))?;
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
