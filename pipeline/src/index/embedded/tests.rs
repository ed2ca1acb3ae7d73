//! Behaviour and crash-recovery tests of the embedded index.

use std::fs::{self, OpenOptions};
use std::io::Write;
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
        page_label: None,
        ocr_pages: Vec::new(),
        ocr_confidence: None,
        media_type: "application/pdf".into(),
        tags: Default::default(),
        text: format!("{doc} chunk {idx} of {sha}"),
        model: "test-model".into(),
        pipeline_version: "p1".into(),
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

#[tokio::test]
async fn reopen_gives_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    idx.upsert(vec![point("t1", "a", "s2", 0, 1, [0.5, 0.5, 0.5, 0.5])])
        .await
        .unwrap();
    idx.delete_doc_except("t1", "a", &key("s2")).await.unwrap();
    let before = snapshot_of(&idx).await;
    drop(idx);
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    assert_eq!(snapshot_of(&idx).await, before);
    idx.ensure_collection(DIMS).await.unwrap();
    drop(idx);
    let ro = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    assert_eq!(snapshot_of(&ro).await, before);
}

#[tokio::test]
async fn torn_tail_is_dropped_and_earlier_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await; // three records
    let expected = snapshot_of(&idx).await;
    drop(idx);
    let log = log_file(dir.path());
    let good_len = fs::metadata(&log).unwrap().len();

    // Garbage after the last record (a torn header, then a torn body).
    for garbage in [&[7u8, 0, 0][..], &[200, 0, 0, 0, 1, 2, 3, 4, 9, 9][..]] {
        OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(garbage)
            .unwrap();
        let idx = EmbeddedIndex::open(dir.path()).unwrap();
        assert_eq!(snapshot_of(&idx).await, expected);
        drop(idx);
        assert_eq!(fs::metadata(&log).unwrap().len(), good_len, "tail cut off");
    }

    // Cut the last record in half: the first two survive.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(good_len - 10)
        .unwrap();
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    let stats = idx.stats().await.unwrap();
    assert_eq!(
        stats,
        vec![TenantStats {
            tenant: "t1".into(),
            documents: 2,
            chunks: 3,
            points: 3
        }]
    );
    // New writes land after the good prefix and survive the next reopen.
    idx.upsert(vec![point("t2", "c", "s1", 0, 1, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    drop(idx);
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    assert_eq!(snapshot_of(&idx).await, expected);
}

#[tokio::test]
async fn torn_tail_is_ignored_but_kept_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    let expected = snapshot_of(&idx).await;
    drop(idx);
    let log = log_file(dir.path());
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&[1, 2, 3])
        .unwrap();
    let len = fs::metadata(&log).unwrap().len();
    let ro = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    assert_eq!(snapshot_of(&ro).await, expected);
    assert_eq!(
        fs::metadata(&log).unwrap().len(),
        len,
        "a reader does not write"
    );
}

/// A checksum mismatch in the middle of the log: the records before it survive; it and every
/// later record are dropped (frame boundaries after a bad frame cannot be trusted), with a
/// warning, and the log is cut there.
#[tokio::test]
async fn corrupt_middle_record_keeps_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    idx.upsert(vec![point("t1", "a", "s1", 0, 1, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    let first_end = fs::metadata(log_file(dir.path())).unwrap().len();
    idx.upsert(vec![point("t1", "b", "s1", 0, 1, [0.0, 1.0, 0.0, 0.0])])
        .await
        .unwrap();
    idx.upsert(vec![point("t1", "c", "s1", 0, 1, [0.0, 0.0, 1.0, 0.0])])
        .await
        .unwrap();
    drop(idx);
    let log = log_file(dir.path());
    let mut bytes = fs::read(&log).unwrap();
    let at = first_end as usize + codec::FRAME_HEADER as usize + 20; // inside record 2's body
    bytes[at] ^= 0xff;
    fs::write(&log, &bytes).unwrap();

    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    let hits = idx
        .search(&[1.0, 1.0, 1.0, 0.0], &all("t1"), 10)
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![("a".into(), 0)]);
    drop(idx);
    assert_eq!(fs::metadata(&log).unwrap().len(), first_end);
}

#[tokio::test]
async fn compaction_keeps_contents_and_removes_old_generations() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        compact_min_dead_bytes: 0,
    };
    let idx = EmbeddedIndex::open_with(dir.path(), options.clone()).unwrap();
    idx.ensure_collection(DIMS).await.unwrap();
    seed(&idx).await;
    // Overwrites make dead bytes outweigh live ones: compaction runs on its own.
    for i in 0..5 {
        let v = [1.0, i as f32, 0.0, 0.0];
        idx.upsert(vec![point("t1", "a", "s1", 0, 2, v)])
            .await
            .unwrap();
    }
    idx.delete_doc_except("t1", "b", &key("none"))
        .await
        .unwrap();
    let listing = files::list(dir.path()).unwrap();
    assert!(!listing.snaps.is_empty(), "a snapshot was written");
    assert_eq!(listing.snaps.len(), 1);
    assert_eq!(
        listing.logs,
        vec![listing.snaps[0]],
        "only the current log remains"
    );
    let expected = snapshot_of(&idx).await;
    drop(idx);

    let idx = EmbeddedIndex::open_with(dir.path(), options).unwrap();
    assert_eq!(snapshot_of(&idx).await, expected);
    idx.compact().unwrap();
    idx.upsert(vec![point("t2", "d", "s1", 0, 1, [0.0, 0.0, 0.0, 1.0])])
        .await
        .unwrap();
    reopen_unchanged(idx, dir.path()).await;
}

#[tokio::test]
async fn interrupted_compaction_leftovers_are_ignored_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    idx.compact().unwrap();
    idx.upsert(vec![point("t2", "d", "s1", 0, 1, [0.0, 0.0, 0.0, 1.0])])
        .await
        .unwrap();
    let expected = snapshot_of(&idx).await;
    let old = files::list(dir.path()).unwrap();
    let generation = old.logs[0];
    drop(idx);

    // Crash in step 1 of the next compaction: a half-written temp snapshot.
    let tmp = files::tmp_path(&files::snap_path(dir.path(), generation + 1));
    fs::write(&tmp, b"half a snapshot").unwrap();
    // Crash in step 2: the next, empty log already exists.
    fs::write(files::log_path(dir.path(), generation + 1), b"").unwrap();
    // A crash in step 4 of an earlier compaction: a stale log of an older generation.
    fs::write(files::log_path(dir.path(), generation - 1), b"garbage").unwrap();
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    assert_eq!(snapshot_of(&idx).await, expected);
    assert!(!tmp.exists(), "temp snapshot removed");
    assert!(
        !files::log_path(dir.path(), generation - 1).exists(),
        "obsolete log removed"
    );
    // Appends go to the newest log and survive a reopen.
    idx.delete_doc_except("t2", "d", &key("none"))
        .await
        .unwrap();
    reopen_unchanged(idx, dir.path()).await;
}

#[tokio::test]
async fn damaged_snapshot_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_fresh(dir.path()).await;
    seed(&idx).await;
    idx.compact().unwrap();
    drop(idx);
    let snap = files::snap_path(dir.path(), files::list(dir.path()).unwrap().snaps[0]);
    let len = fs::metadata(&snap).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&snap)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let err = EmbeddedIndex::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("snapshot") && err.contains("damaged"), "{err}");
}

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

#[tokio::test]
async fn unknown_format_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_fresh(dir.path()).await);
    fs::write(dir.path().join("meta.json"), br#"{"format":99,"dims":4}"#).unwrap();
    let err = EmbeddedIndex::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("format 99") && err.contains("format 1"),
        "{err}"
    );
}
