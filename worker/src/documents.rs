//! What is stored of one document, for the two paths that remove documents: `DELETE
//! /v1/documents/{doc_id}` and `docfleet gc` (retention).

use docfleet_pipeline::Result;
use docfleet_pipeline::artifacts::{MANIFEST_FILE, Manifest};
use docfleet_pipeline::store::{ObjectKey, ObjectStore};

/// A document's objects: its artifacts (every version under `<tenant>/<doc_id>/`) and, when it
/// came in as an upload, the uploaded file; and when its newest version was completed.
#[derive(Debug, Default)]
pub struct StoredDocument {
    pub objects: Vec<ObjectKey>,
    /// Seconds since the Unix epoch of the newest manifest (`None`: no complete version).
    pub last_indexed_unix_secs: Option<u64>,
}

pub async fn stored_document(
    store: &dyn ObjectStore,
    tenant: &str,
    doc_id: &str,
) -> Result<StoredDocument> {
    let prefix = ObjectKey::new(format!("{tenant}/{doc_id}"))?;
    let mut objects = store.list(&prefix).await?;
    // The uploaded source, named by the manifests: only ever one of this tenant's uploads.
    let uploads = format!("{tenant}/_uploads/");
    let mut sources = Vec::new();
    let mut last = None;
    for key in objects
        .iter()
        .filter(|k| k.as_str().ends_with(MANIFEST_FILE))
    {
        let bytes = store.get(key).await?;
        let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        last = last.max(Some(m.completed_at_unix_secs));
        if let Some(src) = store.key_of_source(&m.source)
            && src.as_str().starts_with(&uploads)
        {
            sources.push(src);
        }
    }
    sources.sort();
    sources.dedup();
    objects.extend(sources);
    Ok(StoredDocument {
        objects,
        last_indexed_unix_secs: last,
    })
}

/// The doc ids with artifacts under `<tenant>/` (uploads left out).
pub async fn tenant_documents(store: &dyn ObjectStore, tenant: &str) -> Result<Vec<String>> {
    let keys = store.list(&ObjectKey::new(tenant.to_owned())?).await?;
    let mut ids: Vec<String> = keys
        .iter()
        .filter_map(|k| k.as_str().strip_prefix(tenant)?.strip_prefix('/'))
        .filter_map(|rest| rest.split('/').next())
        .filter(|id| *id != "_uploads")
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}
