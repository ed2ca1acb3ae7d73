//! What survives a reopen, a torn or corrupt log, a compaction (finished or not) and a damaged
//! snapshot.

use std::fs::{self, OpenOptions};
use std::io::Write;

use super::*;

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
