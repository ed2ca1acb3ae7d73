//! What the index refuses, and how it says so: a vector dimension it does not hold, non-finite
//! vectors, a second writer, writes to a read-only index.

use super::*;

#[tokio::test]
async fn dimension_mismatch_is_a_clear_permanent_error() {
    let dir = tempfile::tempdir().unwrap();
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    let early = idx
        .upsert(vec![point("t1", "a", "s1", 0, 1, [1.0; DIMS])])
        .await
        .unwrap_err();
    assert!(
        early.to_string().contains("before ensure_collection"),
        "{early}"
    );
    idx.ensure_collection(384).await.unwrap();
    idx.ensure_collection(384).await.unwrap();
    let err = idx.ensure_collection(768).await.unwrap_err();
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("384-dim") && msg.contains("768-dim"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    let upsert = idx
        .upsert(vec![point("t1", "a", "s1", 0, 1, [1.0; DIMS])])
        .await
        .unwrap_err();
    assert!(upsert.to_string().contains("384-dim") && upsert.to_string().contains("4-dim"));
    drop(idx);
    // The dimension is persisted.
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    assert!(
        idx.ensure_collection(768)
            .await
            .unwrap_err()
            .to_string()
            .contains("384-dim")
    );
    let q = idx.search(&[1.0; DIMS], &all("t1"), 3).await.unwrap_err();
    assert!(q.to_string().contains("384"), "{q}");
}

#[tokio::test]
async fn non_finite_vectors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    let bad = point("t1", "a", "s1", 0, 1, [1.0, f32::NAN, 0.0, 0.0]);
    assert!(!idx.upsert(vec![bad]).await.unwrap_err().is_retryable());
    assert!(idx.stats().await.unwrap().is_empty());
}

#[tokio::test]
async fn second_writer_and_reader_during_a_write_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    for err in [
        EmbeddedIndex::open(dir.path()).unwrap_err(),
        EmbeddedIndex::open_read_only(dir.path()).unwrap_err(),
    ] {
        assert!(
            err.to_string()
                .contains("in use by another docfleet process"),
            "{err}"
        );
    }
    drop(idx);
    let r1 = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    let r2 = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    assert!(
        EmbeddedIndex::open(dir.path()).is_err(),
        "readers keep writers out"
    );
    drop((r1, r2));
    EmbeddedIndex::open(dir.path()).unwrap();
}

#[tokio::test]
async fn read_only_refuses_writes_and_missing_dir_reads_empty() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let ro = EmbeddedIndex::open_read_only(&missing).unwrap();
    assert!(!missing.exists(), "a reader creates nothing");
    assert!(
        ro.search(&[1.0; DIMS], &all("t1"), 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ro.stats().await.unwrap().is_empty());
    assert!(ro.ensure_collection(DIMS).await.is_err());

    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    drop(idx);
    let ro = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    ro.ensure_collection(DIMS).await.unwrap();
    let point = point("t1", "z", "s1", 0, 1, [1.0; DIMS]);
    for err in [
        ro.upsert(vec![point]).await.unwrap_err(),
        ro.delete_doc_except("t1", "a", &key("x"))
            .await
            .unwrap_err(),
        ro.compact().unwrap_err(),
    ] {
        assert!(err.to_string().contains("read-only"), "{err}");
    }
}
