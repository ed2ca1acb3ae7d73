//! The `VectorIndex` contract, run against every adapter: the embedded index always, a Qdrant
//! server when `QDRANT_URL` (its gRPC URL, e.g. http://127.0.0.1:6334) is set; without it the
//! Qdrant tests print SKIPPED and pass. Each Qdrant test uses fresh collections and drops them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use docfleet_pipeline::doc::{doc_id, point_id};
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::{ChunkPayload, Filter, Point, TenantStats, VectorIndex, VersionKey};

const DIMS: usize = 8;

/// A unit-ish vector pointing mostly along axis `i`.
fn vector(i: usize) -> Vec<f32> {
    (0..DIMS)
        .map(|d| {
            if d == i % DIMS {
                1.0
            } else {
                0.01 * (d + 1) as f32
            }
        })
        .collect()
}

fn version(sha: &str) -> VersionKey {
    VersionKey {
        content_sha256: sha.repeat(64 / sha.len()),
        pipeline_version: "p1".into(),
    }
}

/// `chunks` points of one document version.
fn doc_points(tenant: &str, source: &str, v: &VersionKey, chunks: u32) -> (String, Vec<Point>) {
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
                page_label: None,
                ocr_pages: Vec::new(),
                ocr_confidence: None,
                text: format!("chunk {i} of {source}"),
                model: "test".into(),
                pipeline_version: v.pipeline_version.clone(),
            },
        })
        .collect();
    (doc, points)
}

fn scope(tenant: &str) -> Filter {
    Filter {
        tenant: tenant.into(),
        doc_id: None,
    }
}

/// Writes, re-writes, replaces a version, searches, counts and deletes, checking each step.
async fn contract(index: Arc<dyn VectorIndex>) {
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

#[tokio::test]
async fn embedded_index_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(EmbeddedIndex::open(dir.path()).unwrap())).await;
}

#[cfg(feature = "qdrant")]
mod qdrant {
    use super::*;
    use docfleet_pipeline::index::qdrant::{QdrantConfig, QdrantIndex, Tenancy};
    use qdrant_client::Qdrant;

    fn url() -> Option<String> {
        let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!(
                "SKIPPED: the Qdrant suite needs a server; set QDRANT_URL to its gRPC URL \
                 (e.g. http://127.0.0.1:6334) to run it"
            );
        }
        url
    }

    fn config(url: &str, tenancy: Tenancy) -> QdrantConfig {
        QdrantConfig {
            url: url.into(),
            api_key: std::env::var("QDRANT_API_KEY").ok(),
            collection: format!(
                "docfleet_test_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            tenancy,
            // Small batches, so 300 points take several requests in parallel.
            upsert_batch_points: 64,
            upsert_parallelism: 4,
            timeout_secs: 30,
            max_attempts: 3,
        }
    }

    /// Drops the collections the test made (`<name>` and `<name>_*`).
    async fn cleanup(url: &str, cfg: &QdrantConfig) {
        let client = Qdrant::from_url(url)
            .api_key(cfg.api_key.clone())
            .skip_compatibility_check()
            .build()
            .unwrap();
        for c in client.list_collections().await.unwrap().collections {
            if c.name == cfg.collection || c.name.starts_with(&format!("{}_", cfg.collection)) {
                client.delete_collection(c.name).await.unwrap();
            }
        }
    }

    async fn run(tenancy: Tenancy) {
        let Some(url) = url() else { return };
        let cfg = config(&url, tenancy);
        let index = Arc::new(QdrantIndex::connect(cfg.clone()).unwrap());
        // Run first, clean up whatever happened, then report.
        let outcome = tokio::spawn(contract(index)).await;
        cleanup(&url, &cfg).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[tokio::test]
    async fn qdrant_refuses_a_collection_of_another_dimension() {
        let Some(url) = url() else { return };
        let cfg = config(&url, Tenancy::Shared);
        let first = QdrantIndex::connect(cfg.clone()).unwrap();
        first.ensure_collection(DIMS).await.unwrap();
        // Another process (a worker with another model) on the same collection.
        let other = QdrantIndex::connect(cfg.clone()).unwrap();
        let e = other.ensure_collection(DIMS + 1).await.unwrap_err();
        cleanup(&url, &cfg).await;
        assert!(!e.is_retryable(), "{e}");
        assert!(e.to_string().contains("holds 8-dim vectors"), "{e}");
    }

    #[tokio::test]
    async fn qdrant_shared_collection_keeps_the_contract() {
        run(Tenancy::Shared).await;
    }

    #[tokio::test]
    async fn qdrant_collection_per_tenant_keeps_the_contract() {
        run(Tenancy::PerTenant).await;
    }
}
