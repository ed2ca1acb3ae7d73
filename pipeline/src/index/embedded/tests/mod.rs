//! Tests of the embedded index, with the documents and helpers they share.

mod keyword;
mod model;
mod recovery;
mod refusals;
mod search;

use std::path::Path;

use super::*;
use crate::index::ChunkPayload;

const DIMS: usize = 4;

fn payload(tenant: &str, doc: &str, sha: &str, idx: u32, count: u32) -> ChunkPayload {
    ChunkPayload {
        tenant: tenant.into(),
        doc_id: doc.into(),
        source: format!("file:///{doc}.pdf"),
        content_sha256: sha.into(),
        chunk_index: idx,
        chunk_count: count,
        page_start: 1,
        page_end: 1,
        media_type: "application/pdf".into(),
        text: format!("{doc} chunk {idx} of {sha}"),
        model: "test-model".into(),
        pipeline_version: "p1".into(),
        ..ChunkPayload::default()
    }
}

fn point(tenant: &str, doc: &str, sha: &str, idx: u32, count: u32, vector: [f32; DIMS]) -> Point {
    Point {
        id: crate::doc::point_id(tenant, doc, idx),
        vector: vector.to_vec(),
        payload: payload(tenant, doc, sha, idx, count),
    }
}

fn key(sha: &str) -> VersionKey {
    VersionKey {
        content_sha256: sha.into(),
        pipeline_version: "p1".into(),
    }
}

fn all(tenant: &str) -> Filter {
    Filter {
        tenant: tenant.into(),
        ..Filter::default()
    }
}

async fn open_fresh(dir: &Path) -> EmbeddedIndex {
    let idx = EmbeddedIndex::open(dir).unwrap();
    idx.ensure_collection(DIMS).await.unwrap();
    idx
}

/// Three documents over two tenants.
async fn seed(idx: &EmbeddedIndex) {
    idx.upsert(vec![
        point("t1", "a", "s1", 0, 2, [1.0, 0.0, 0.0, 0.0]),
        point("t1", "a", "s1", 1, 2, [1.0, 1.0, 0.0, 0.0]),
    ])
    .await
    .unwrap();
    idx.upsert(vec![point("t1", "b", "s1", 0, 1, [0.0, 1.0, 0.0, 0.0])])
        .await
        .unwrap();
    idx.upsert(vec![point("t2", "c", "s1", 0, 1, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
}

fn ids(hits: &[SearchHit]) -> Vec<(String, u32)> {
    hits.iter()
        .map(|h| (h.payload.doc_id.clone(), h.payload.chunk_index))
        .collect()
}

/// Everything observable, for before/after comparisons.
async fn snapshot_of(idx: &EmbeddedIndex) -> (Vec<TenantStats>, Vec<Vec<SearchHit>>) {
    let mut hits = Vec::new();
    for t in ["t1", "t2"] {
        for q in [[1.0, 0.0, 0.0, 0.0], [0.3, 0.9, 0.1, 0.0]] {
            hits.push(idx.search(&q, &all(t), 100).await.unwrap());
        }
    }
    (idx.stats().await.unwrap(), hits)
}

/// Drops the index, opens it again and checks that nothing changed; returns the reopened index.
async fn reopen_unchanged(idx: EmbeddedIndex, dir: &Path) -> EmbeddedIndex {
    let expected = snapshot_of(&idx).await;
    drop(idx);
    let idx = EmbeddedIndex::open(dir).unwrap();
    assert_eq!(snapshot_of(&idx).await, expected);
    idx
}

fn log_file(dir: &Path) -> std::path::PathBuf {
    let listing = files::list(dir).unwrap();
    files::log_path(dir, *listing.logs.last().unwrap())
}
