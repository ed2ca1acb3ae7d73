//! `docfleet gc`: retention. For every tenant whose profile sets `retention.days`, the documents
//! last indexed longer ago lose their vectors (in every model's index) and their artifacts
//! (every version, and the uploaded file).

use std::sync::Arc;

use anyhow::{Context, Result};
use docfleet_core::time::now_unix_secs;
use docfleet_pipeline::index::VectorIndex;
use serde::Serialize;

use crate::documents::tenant_documents;
use crate::profile::ProfileCache;
use crate::settings::{CommonOpts, StoreOpts};
use crate::wiring::{self, IndexAccess};

#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub tenants: Vec<TenantGc>,
}

#[derive(Debug, Serialize)]
pub struct TenantGc {
    pub tenant: String,
    pub retention_days: u32,
    pub documents_kept: u64,
    /// The documents removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
    pub points_deleted: u64,
    pub objects_deleted: u64,
}

/// The index of every model that may hold vectors.
fn indexes(common: &CommonOpts) -> Result<Vec<Arc<dyn VectorIndex>>> {
    common
        .indexed_models()?
        .iter()
        .map(|name| {
            wiring::open_index(&common.for_model(name)?, IndexAccess::Write)
                .with_context(|| format!("opening the index of model {name}"))
        })
        .collect()
}

pub async fn gc(common: &CommonOpts, store_opts: &StoreOpts, dry_run: bool) -> Result<GcReport> {
    let store = wiring::open_job_store(common, store_opts).await?;
    let profiles = ProfileCache::new(store.clone(), std::time::Duration::ZERO);
    let objects = wiring::open_object_store(common).await?;
    let indexes = if dry_run {
        Vec::new()
    } else {
        indexes(common)?
    };
    let now = now_unix_secs();
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    for tenant in store.tenants().list_tenants().await? {
        let Some(days) = profiles
            .get(&tenant.name)
            .await?
            .and_then(|a| a.profile.retention.days)
        else {
            continue;
        };
        let cutoff = now.saturating_sub(u64::from(days) * 86_400);
        let mut t = TenantGc {
            tenant: tenant.name.clone(),
            retention_days: days,
            documents_kept: 0,
            removed: Vec::new(),
            points_deleted: 0,
            objects_deleted: 0,
        };
        for (doc_id, doc) in tenant_documents(objects.as_ref(), &tenant.name).await? {
            // A document without a complete version is being written (or failed): left alone.
            let expired = doc.last_indexed_unix_secs.is_some_and(|at| at < cutoff);
            if !expired {
                t.documents_kept += 1;
                continue;
            }
            if !dry_run {
                // Vectors first: once they are gone the document is out of search.
                for index in &indexes {
                    t.points_deleted += index.delete_doc(&tenant.name, &doc_id).await?;
                }
                objects.delete(&doc.objects).await?;
            }
            t.objects_deleted += doc.objects.len() as u64;
            tracing::info!(tenant = %tenant.name, %doc_id, dry_run, "retention: document removed");
            t.removed.push(doc_id);
        }
        report.tenants.push(t);
    }
    store.close().await;
    Ok(report)
}
