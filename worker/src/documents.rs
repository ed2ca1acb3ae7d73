//! What is stored of a document, for the two paths that remove documents: `DELETE
//! /v1/documents/{doc_id}` (one document) and `docfleet gc` (every document of a tenant).

use std::collections::BTreeMap;

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
    let artifacts = store
        .list(&ObjectKey::new(format!("{tenant}/{doc_id}"))?)
        .await?;
    with_manifests(store, tenant, artifacts).await
}

/// Every document with artifacts under `<tenant>/` (uploads are not documents), by doc id,
/// from one listing of the tenant's objects.
pub async fn tenant_documents(
    store: &dyn ObjectStore,
    tenant: &str,
) -> Result<BTreeMap<String, StoredDocument>> {
    let mut by_doc: BTreeMap<String, Vec<ObjectKey>> = BTreeMap::new();
    for key in store.list(&ObjectKey::new(tenant.to_owned())?).await? {
        let doc_id = key
            .as_str()
            .strip_prefix(tenant)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split('/').next())
            .filter(|id| *id != "_uploads")
            .map(str::to_owned);
        if let Some(doc_id) = doc_id {
            by_doc.entry(doc_id).or_default().push(key);
        }
    }
    let mut out = BTreeMap::new();
    for (doc_id, artifacts) in by_doc {
        out.insert(doc_id, with_manifests(store, tenant, artifacts).await?);
    }
    Ok(out)
}

/// A document's artifacts, plus what their manifests say: the uploaded source (only ever one of
/// this tenant's uploads) and the newest completion time.
async fn with_manifests(
    store: &dyn ObjectStore,
    tenant: &str,
    mut objects: Vec<ObjectKey>,
) -> Result<StoredDocument> {
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
