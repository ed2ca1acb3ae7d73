//! The `VectorIndex` contract, run against every adapter: the embedded index always, a Qdrant
//! server when `QDRANT_URL` (its gRPC URL, e.g. http://127.0.0.1:6334) is set; without it the
//! Qdrant tests print SKIPPED and pass. Each Qdrant test uses fresh collections and drops them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;

use std::sync::Arc;

use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::index::embedded::EmbeddedIndex;

use cases::corpus::corpus_points;
use cases::search::search_contract;
use cases::writes::contract;
use cases::{DIMS, scope};

#[tokio::test]
async fn embedded_index_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(EmbeddedIndex::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn embedded_index_keeps_the_search_contract() {
    let dir = tempfile::tempdir().unwrap();
    search_contract(Arc::new(EmbeddedIndex::open(dir.path()).unwrap())).await;
    // The same answers after a reopen (the keyword index is rebuilt from the stored payloads).
    let dir2 = tempfile::tempdir().unwrap();
    let before = {
        let index = EmbeddedIndex::open(dir2.path()).unwrap();
        index.ensure_collection(DIMS).await.unwrap();
        index.upsert(corpus_points("acme")).await.unwrap();
        index
            .keyword_search("supplier contract", &scope("acme"), 10)
            .await
            .unwrap()
    };
    let reopened = EmbeddedIndex::open(dir2.path()).unwrap();
    let hits = reopened
        .keyword_search("supplier contract", &scope("acme"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 4);
    assert_eq!(hits, before);
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
        run_suite(tenancy, false).await;
    }

    /// `search`: the keyword, hybrid, filter and facet suite instead of the write suite.
    async fn run_suite(tenancy: Tenancy, search: bool) {
        let Some(url) = url() else { return };
        let cfg = config(&url, tenancy);
        let index: Arc<dyn VectorIndex> = Arc::new(QdrantIndex::connect(cfg.clone()).unwrap());
        // Run first, clean up whatever happened, then report.
        let outcome = if search {
            tokio::spawn(search_contract(index)).await
        } else {
            tokio::spawn(contract(index)).await
        };
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

    #[tokio::test]
    async fn qdrant_shared_collection_keeps_the_search_contract() {
        run_suite(Tenancy::Shared, true).await;
    }

    #[tokio::test]
    async fn qdrant_collection_per_tenant_keeps_the_search_contract() {
        run_suite(Tenancy::PerTenant, true).await;
    }
}
