//! Search, filters, overwrites and version replacement.

use super::*;

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EmbeddedIndex>();
}

#[tokio::test]
async fn search_finds_nearest_with_cosine_score_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    let hits = idx
        .search(&[2.0, 0.0, 0.0, 0.0], &all("t1"), 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&hits),
        vec![("a".into(), 0), ("a".into(), 1), ("b".into(), 0)]
    );
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    assert!((hits[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert!(hits[2].score.abs() < 1e-6);
    assert_eq!(hits[0].payload, payload("t1", "a", "s1", 0, 2));
    let top1 = idx
        .search(&[0.0, 3.0, 0.0, 0.0], &all("t1"), 1)
        .await
        .unwrap();
    assert_eq!(ids(&top1), vec![("b".into(), 0)]);
    assert!(
        idx.search(&[1.0, 0.0, 0.0, 0.0], &all("t1"), 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn tenant_and_doc_filters_scope_the_search() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    let t2 = idx
        .search(&[1.0, 0.0, 0.0, 0.0], &all("t2"), 10)
        .await
        .unwrap();
    assert_eq!(ids(&t2), vec![("c".into(), 0)]);
    assert!(
        idx.search(&[1.0, 0.0, 0.0, 0.0], &all("nobody"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let only_b = Filter {
        tenant: "t1".into(),
        doc_id: Some("b".into()),
        ..Filter::default()
    };
    let hits = idx
        .search(&[1.0, 0.0, 0.0, 0.0], &only_b, 10)
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![("b".into(), 0)]);
    let other_tenants_doc = Filter {
        tenant: "t2".into(),
        doc_id: Some("a".into()),
        ..Filter::default()
    };
    assert!(
        idx.search(&[1.0, 0.0, 0.0, 0.0], &other_tenants_doc, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn overwrite_by_id_does_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    idx.upsert(vec![point("t1", "b", "s2", 0, 1, [0.0, 0.0, 1.0, 0.0])])
        .await
        .unwrap();
    let hits = idx
        .search(&[0.0, 0.0, 1.0, 0.0], &all("t1"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].payload.content_sha256, "s2");
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    let stats = idx.stats().await.unwrap();
    assert_eq!(
        stats[0],
        TenantStats {
            tenant: "t1".into(),
            documents: 2,
            chunks: 3,
            points: 3
        }
    );
}

#[tokio::test]
async fn delete_doc_except_removes_only_stale_versions_and_counts_follow() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    // Doc "a" gets a new version of 3 chunks; chunk 0 and 1 ids are overwritten, chunk 2 is new.
    // Mid-way (before chunk 2 is written) a stale point of s1 remains under another id: simulate
    // with a 4-chunk old version.
    idx.upsert(vec![
        point("t1", "a", "s1", 2, 4, [0.0, 0.0, 0.0, 1.0]),
        point("t1", "a", "s1", 3, 4, [0.0, 0.0, 1.0, 1.0]),
    ])
    .await
    .unwrap();
    idx.upsert(vec![
        point("t1", "a", "s2", 0, 3, [1.0, 0.0, 0.0, 0.0]),
        point("t1", "a", "s2", 1, 3, [0.0, 1.0, 0.0, 0.0]),
    ])
    .await
    .unwrap();
    let versions = idx.doc_versions("t1", "a").await.unwrap();
    assert_eq!(
        versions,
        vec![
            DocVersion {
                key: key("s1"),
                chunk_count: 4,
                points: 2
            },
            DocVersion {
                key: key("s2"),
                chunk_count: 3,
                points: 2
            },
        ]
    );
    // Each (doc, version) counted once: a = 4 + 3, b = 1.
    let stats = idx.stats().await.unwrap();
    assert_eq!(
        stats,
        vec![
            TenantStats {
                tenant: "t1".into(),
                documents: 2,
                chunks: 8,
                points: 5
            },
            TenantStats {
                tenant: "t2".into(),
                documents: 1,
                chunks: 1,
                points: 1
            },
        ]
    );
    assert_eq!(
        idx.delete_doc_except("t1", "a", &key("s2")).await.unwrap(),
        2
    );
    assert_eq!(
        idx.delete_doc_except("t1", "a", &key("s2")).await.unwrap(),
        0
    );
    assert_eq!(
        idx.doc_versions("t1", "a").await.unwrap(),
        vec![DocVersion {
            key: key("s2"),
            chunk_count: 3,
            points: 2
        }]
    );
    // Other docs and tenants untouched.
    assert_eq!(idx.doc_versions("t1", "b").await.unwrap().len(), 1);
    assert_eq!(idx.doc_versions("t2", "c").await.unwrap().len(), 1);
    assert!(idx.doc_versions("t2", "a").await.unwrap().is_empty());
    // Deleting every version (keep one that is absent) empties the document.
    assert_eq!(
        idx.delete_doc_except("t1", "b", &key("zzz")).await.unwrap(),
        1
    );
    let stats = idx.stats().await.unwrap();
    assert_eq!(
        stats[0],
        TenantStats {
            tenant: "t1".into(),
            documents: 1,
            chunks: 3,
            points: 2
        }
    );
}
