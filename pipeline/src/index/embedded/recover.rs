//! Open-time recovery: newest snapshot, then the logs of its generation and later, in order.

use std::path::Path;

use super::codec::Op;
use super::files::{self, Listing, Meta};
use super::log;
use super::snapshot;
use super::state::State;
use crate::{Error, Result};

/// What recovery found.
#[derive(Debug)]
pub(super) struct Recovered {
    pub state: State,
    /// Bytes on disk that the state was rebuilt from (snapshot + good log prefixes).
    pub disk_bytes: u64,
    /// Generation appends go to next, and the end of its last good frame (0 if it is missing).
    pub active_generation: u64,
    pub active_good_len: u64,
    /// Whether the active log exists.
    pub active_exists: bool,
}

pub(super) fn recover(dir: &Path, meta: &Meta, listing: &Listing) -> Result<Recovered> {
    let corrupt = |why: String| {
        Error::index(
            format!(
                "index at {} is damaged: {why}; restore it or re-index",
                dir.display()
            ),
            false,
        )
    };
    let mut state = State::deferred(meta.dims);
    let mut disk_bytes = 0;
    // Generation 0 has no snapshot: its base is the empty state.
    let base = listing.snaps.last().copied().unwrap_or(0);
    if listing.snaps.last().is_some() {
        disk_bytes += snapshot::load(&files::snap_path(dir, base), &mut state)?;
    }
    let logs: Vec<u64> = listing
        .logs
        .iter()
        .copied()
        .filter(|&g| g >= base)
        .collect();
    // Logs are created one generation at a time: a gap means a lost file, not a crash.
    for (i, &g) in logs.iter().enumerate() {
        if g != base + i as u64 {
            return Err(corrupt(format!(
                "write-ahead log generation {} is missing (found {g})",
                base + i as u64
            )));
        }
    }
    let mut active_good_len = 0;
    for &g in &logs {
        let path = files::log_path(dir, g);
        let replayed = log::replay(&path, |op| apply(&mut state, op, &path))?;
        disk_bytes += replayed.good_len;
        active_good_len = replayed.good_len;
    }
    // Derived from the payloads now in memory: nothing of it is on disk.
    state.build_keyword();
    Ok(Recovered {
        state,
        disk_bytes,
        active_generation: logs.last().copied().unwrap_or(base),
        active_good_len,
        active_exists: !logs.is_empty(),
    })
}

fn apply(state: &mut State, op: Op, path: &Path) -> Result<()> {
    match op {
        Op::Upsert { dims, points } => {
            if state.dims != Some(dims as usize) {
                return Err(Error::index(
                    format!(
                        "index log {} holds {dims}-dim vectors but meta.json says {:?}",
                        path.display(),
                        state.dims
                    ),
                    false,
                ));
            }
            state.upsert(points);
        }
        Op::DeleteDocExcept {
            tenant,
            doc_id,
            keep,
        } => {
            state.delete_doc_except(&tenant, &doc_id, &keep);
        }
        Op::SnapshotBegin { .. } | Op::SnapshotEnd { .. } => {
            return Err(Error::index(
                format!("index log {} holds a snapshot record", path.display()),
                false,
            ));
        }
    }
    Ok(())
}
