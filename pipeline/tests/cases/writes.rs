//! Writes, re-writes, a version replaced, searches, counts and deletes.

use std::sync::Arc;

use docfleet_pipeline::doc::{doc_id, point_id};
use docfleet_pipeline::index::{ChunkPayload, Filter, Point, TenantStats, VectorIndex, VersionKey};

use super::{DIMS, scope, vector, version};

/// `chunks` points of one document version.
pub fn doc_points(tenant: &str, source: &str, v: &VersionKey, chunks: u32) -> (String, Vec<Point>) {
    let doc = doc_id(tenant, source);
    let points = (0..chunks)
        .map(|i| Point {
            id: point_id(tenant, &doc, i),
            vector: vector(i as usize),
            payload: ChunkPayload {
                tenant: tenant.into(),
                doc_id: doc.clone(),
                source: source.into(),
                content_sha256: v.content_sha256.clone(),
                chunk_index: i,
                chunk_count: chunks,
                page_start: 1,
                page_end: 1,
                media_type: "application/pdf".into(),
                text: format!("chunk {i} of {source}"),
                model: "test".into(),
                pipeline_version: v.pipeline_version.clone(),
                ..ChunkPayload::default()
            },
        })
        .collect();
    (doc, points)
}

/// Writes, re-writes, replaces a version, searches, counts and deletes, checking each step.
pub async fn contract(index: Arc<dyn VectorIndex>) {
    index.ensure_collection(DIMS).await.unwrap();
    index.ensure_collection(DIMS).await.unwrap();
    let other_dims = index.ensure_collection(DIMS + 1).await.unwrap_err();
    assert!(!other_dims.is_retryable(), "{other_dims}");

    // 300 points: several upsert batches.
    let v1 = version("a1");
    let (doc, points) = doc_points("acme", "s3://b/big.pdf", &v1, 300);
    index.upsert(points.clone()).await.unwrap();
    let (small, small_points) = doc_points("acme", "s3://b/small.pdf", &v1, 2);
    index.upsert(small_points).await.unwrap();
    let (_, globex_points) = doc_points("globex", "s3://b/big.pdf", &v1, 3);
    index.upsert(globex_points).await.unwrap();

    // The same points again: overwritten, not duplicated.
    index.upsert(points.clone()).await.unwrap();
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].chunk_count, versions[0].points), (300, 300));
    assert_eq!(versions[0].key, v1);

    let stats = index.stats().await.unwrap();
    let expect = |tenant: &str, documents, chunks, points| TenantStats {
        tenant: tenant.into(),
        documents,
        chunks,
        points,
    };
    assert_eq!(
        stats,
        [expect("acme", 2, 302, 302), expect("globex", 1, 3, 3)]
    );

    // Search: best first, cosine in [-1, 1], only the tenant's points.
    let hits = index.search(&vector(3), &scope("acme"), 5).await.unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        hits[0].score > 0.99 && hits[0].score <= 1.0 + 1e-5,
        "{}",
        hits[0].score
    );
    assert_eq!(hits[0].payload.chunk_index % DIMS as u32, 3);
    assert!(hits.iter().all(|h| h.payload.tenant == "acme"));
    let globex = index
        .search(&vector(3), &scope("globex"), 50)
        .await
        .unwrap();
    assert_eq!(globex.len(), 3);
    assert!(globex.iter().all(|h| h.payload.tenant == "globex"));
    assert!(
        index
            .search(&vector(3), &scope("nobody"), 5)
            .await
            .unwrap()
            .is_empty()
    );
    let one_doc = Filter {
        doc_id: Some(small.clone()),
        ..scope("acme")
    };
    let hits = index.search(&vector(0), &one_doc, 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.payload.doc_id == small));
    let hit = &hits[0];
    assert_eq!(hit.id, point_id("acme", &small, hit.payload.chunk_index));

    // A new version with fewer chunks: both are present until the stale one is deleted.
    let v2 = version("b2");
    let (_, new_points) = doc_points("acme", "s3://b/big.pdf", &v2, 120);
    index.upsert(new_points).await.unwrap();
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(
        index.delete_doc_except("acme", &doc, &v2).await.unwrap(),
        180
    );
    assert_eq!(index.delete_doc_except("acme", &doc, &v2).await.unwrap(), 0);
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].key.clone(), versions[0].points), (v2, 120));
    // Another tenant's document of the same source is untouched.
    assert_eq!(index.stats().await.unwrap()[1], expect("globex", 1, 3, 3));

    // Whole-document delete.
    assert_eq!(index.delete_doc("acme", &doc).await.unwrap(), 120);
    assert!(index.doc_versions("acme", &doc).await.unwrap().is_empty());
    assert_eq!(index.delete_doc("globex", &small).await.unwrap(), 0);
    assert_eq!(
        index.stats().await.unwrap(),
        [expect("acme", 1, 2, 2), expect("globex", 1, 3, 3)]
    );
}
