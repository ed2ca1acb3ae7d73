//! Snapshots and compaction.
//!
//! A snapshot is framed like a log: `SnapshotBegin{format, dims}`, upserts of up to
//! [`BATCH`] points in row order, `SnapshotEnd{points}`. It is only ever renamed into place
//! after an fsync, so a damaged one is media damage, never a crash artefact: loading it fails.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::codec::{self, Frame, FrameReader, Op};
use super::files;
use super::log::LogWriter;
use super::state::State;
use crate::{Error, Result};

const BATCH: usize = 1024;

/// Writes `state` to `path` and fsyncs it; returns its size.
fn write_file(path: &Path, state: &State) -> io::Result<u64> {
    let dims = state.dims.unwrap_or(0);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut buf = Vec::new();
    let mut total = 0u64;
    let dims_u32 = u32::try_from(dims).map_err(io::Error::other)?;
    codec::encode_small(
        &mut buf,
        &Op::SnapshotBegin {
            format: files::FORMAT,
            dims: dims_u32,
        },
    )?;
    let mut start = 0;
    while start < state.len() {
        let end = (start + BATCH).min(state.len());
        let rows = (start..end).map(|r| (&state.ids[r], state.row(r), &state.payloads[r]));
        codec::encode_upsert(&mut buf, dims, rows)?;
        out.write_all(&buf)?;
        total += buf.len() as u64;
        buf.clear();
        start = end;
    }
    codec::encode_small(
        &mut buf,
        &Op::SnapshotEnd {
            points: state.len() as u64,
        },
    )?;
    out.write_all(&buf)?;
    total += buf.len() as u64;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(total)
}

/// Loads the snapshot at `path` into an empty `state` whose dims come from the meta file.
pub(super) fn load(path: &Path, state: &mut State) -> Result<u64> {
    let corrupt = |why: String| {
        Error::index(
            format!(
                "index snapshot {} is damaged ({why}); restore the data dir or re-index",
                path.display()
            ),
            false,
        )
    };
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = FrameReader::new(file, len);
    let mut begun = false;
    loop {
        let body = match reader.next_frame()? {
            Frame::Good(body) => body,
            Frame::End => return Err(corrupt("no end record".into())),
            Frame::Bad(why) => return Err(corrupt(format!("{why} at byte {}", reader.offset))),
        };
        match (begun, codec::decode(&body).map_err(corrupt)?) {
            (false, Op::SnapshotBegin { format, dims }) => {
                if format != files::FORMAT {
                    return Err(corrupt(format!(
                        "format {format}, expected {}",
                        files::FORMAT
                    )));
                }
                // dims 0: snapshot of an index taken before `ensure_collection` (no points).
                if dims != 0 && state.dims != Some(dims as usize) {
                    return Err(corrupt(format!(
                        "{dims}-dim vectors but meta.json says {:?}",
                        state.dims
                    )));
                }
                begun = true;
            }
            (true, Op::Upsert { dims, points }) if Some(dims as usize) == state.dims => {
                state.upsert(points);
            }
            (true, Op::SnapshotEnd { points }) => {
                if points != state.len() as u64 {
                    return Err(corrupt(format!(
                        "{} points, end record says {points}",
                        state.len()
                    )));
                }
                if reader.offset != len {
                    return Err(corrupt("data after the end record".into()));
                }
                return Ok(len);
            }
            (_, op) => return Err(corrupt(format!("unexpected record {}", op_name(&op)))),
        }
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Upsert { .. } => "upsert",
        Op::DeleteDocExcept { .. } => "delete",
        Op::SnapshotBegin { .. } => "snapshot-begin",
        Op::SnapshotEnd { .. } => "snapshot-end",
    }
}

/// Writes a snapshot of `state` as generation `log.generation + 1`, switches `log` to that
/// generation's new, empty log and removes the files the snapshot makes obsolete. Returns the
/// snapshot's size. The caller holds the write lock, so `state` is everything logged so far.
///
/// Crash at each step (N = current generation):
/// 1. snapshot written to `snap-N+1.snap.tmp` and fsynced: a crash leaves a `.tmp` that open
///    ignores and removes; the state is still `snap-N` (if any) + `wal-N`.
/// 2. `wal-N+1.log` created empty: a crash leaves an empty log replayed after `wal-N`: no change.
/// 3. rename `.tmp` → `snap-N+1.snap` (atomic), then fsync the dir. Before the rename is durable,
///    open sees step 2's state; after, it loads `snap-N+1` (which equals `snap-N` + `wal-N`) and
///    replays `wal-N+1`. Appends move to `wal-N+1` as soon as the rename returns, so they are
///    replayed either way; if the dir fsync fails the writer is poisoned until a reopen.
/// 4. `wal-N`, `snap-N` (and older) deleted: open deletes whatever a crash left of them.
pub(super) fn compact(dir: &Path, state: &State, log: &mut LogWriter) -> Result<u64> {
    let next = log.generation + 1;
    let path = files::snap_path(dir, next);
    let tmp = files::tmp_path(&path);
    let size = match write_file(&tmp, state) {
        Ok(size) => size,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    let new_log = LogWriter::create(dir, next)?;
    fs::rename(&tmp, &path)?;
    *log = new_log;
    if let Err(e) = files::sync_dir(dir) {
        log.poison(format!(
            "syncing the directory after a snapshot failed: {e}"
        ));
        return Err(e.into());
    }
    remove_obsolete(dir, next)?;
    Ok(size)
}

/// Removes logs and snapshots of generations before `generation`, and leftover temp files.
pub(super) fn remove_obsolete(dir: &Path, generation: u64) -> io::Result<()> {
    let listing = files::list(dir)?;
    let mut removed = false;
    for g in listing.logs.iter().filter(|&&g| g < generation) {
        fs::remove_file(files::log_path(dir, *g))?;
        removed = true;
    }
    for g in listing.snaps.iter().filter(|&&g| g < generation) {
        fs::remove_file(files::snap_path(dir, *g))?;
        removed = true;
    }
    for tmp in &listing.tmps {
        tracing::info!(file = %tmp.display(), "removing a leftover temp file from an interrupted write");
        fs::remove_file(tmp)?;
        removed = true;
    }
    if removed {
        files::sync_dir(dir)?;
    }
    Ok(())
}
