//! Embedded on-disk vector index: exact cosine search over contiguous `f32` rows, made durable by
//! a checksummed write-ahead log and compacted into snapshots.
//!
//! Layout and crash safety: see [`files`] (directory), [`codec`] (records), [`log`] (appends and
//! replay) and [`snapshot::compact`] (the crash argument step by step). In short: every write
//! call appends one checksummed record and fsyncs it before it returns and before memory changes;
//! open loads the newest snapshot and replays later logs, dropping a torn or corrupt tail; files
//! that replace others are written to `.tmp`, fsynced, renamed, and the directory fsynced.
//!
//! One process writes ([`EmbeddedIndex::open`], exclusive lock); any number may read while none
//! writes ([`EmbeddedIndex::open_read_only`], shared lock).

mod codec;
mod files;
mod log;
mod recover;
mod search;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use self::codec::{Op, StoredPoint};
use self::files::Meta;
use self::log::LogWriter;
use self::state::State;
use super::{
    DocVersion, Facets, Filter, Point, SearchHit, TenantStats, VectorIndex, VersionKey, keyword,
};
use crate::{Error, Result};

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Compact when the bytes on disk that no longer hold live data exceed both the live bytes
    /// and this many bytes.
    pub compact_min_dead_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            compact_min_dead_bytes: 64 << 20,
        }
    }
}

/// The writer's side: the open log and what is on disk. Its mutex serialises writes.
#[derive(Debug)]
struct Writer {
    log: LogWriter,
    /// Snapshot + logs since: compared with the live bytes to decide on compaction.
    disk_bytes: u64,
}

/// See the module docs.
pub struct EmbeddedIndex {
    dir: PathBuf,
    options: Options,
    state: RwLock<State>,
    /// `None` when opened read-only.
    writer: Option<Mutex<Writer>>,
    /// Holds the advisory lock (exclusive or shared) for the index's lifetime.
    _lock: Option<File>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("dir", &self.dir)
            .field("read_only", &self.writer.is_none())
            .finish_non_exhaustive()
    }
}

impl EmbeddedIndex {
    /// Opens (creating if needed) the index in `dir` for writing, with default options.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Options::default())
    }

    /// Opens (creating if needed) the index in `dir` for writing. Fails if another process (or
    /// another `EmbeddedIndex` in this one) has it open.
    pub fn open_with(dir: &Path, options: Options) -> Result<Self> {
        if !dir.is_dir() {
            fs::create_dir_all(dir)?;
            // The new directory's own entry must be durable too, or a power cut could lose it.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                files::sync_dir(parent)?;
            }
        }
        let lock = files::lock(dir, false)?;
        let listing = files::list(dir)?;
        let meta = match files::read_meta(dir)? {
            Some(meta) => meta,
            None if listing.has_data() => return Err(missing_meta(dir)),
            None => {
                let meta = Meta {
                    format: files::FORMAT,
                    dims: None,
                };
                files::write_meta(dir, &meta)?;
                meta
            }
        };
        let rec = recover::recover(dir, &meta, &listing)?;
        let log = if rec.active_exists {
            LogWriter::open(dir, rec.active_generation, rec.active_good_len)?
        } else {
            let log = LogWriter::create(dir, rec.active_generation)?;
            files::sync_dir(dir)?;
            log
        };
        // Older generations, and temp files of interrupted writes, are dead now.
        snapshot::remove_obsolete(dir, listing.snaps.last().copied().unwrap_or(0))?;
        Ok(Self {
            dir: dir.to_owned(),
            options,
            state: RwLock::new(rec.state),
            writer: Some(Mutex::new(Writer {
                log,
                disk_bytes: rec.disk_bytes,
            })),
            _lock: Some(lock),
        })
    }

    /// Opens the index in `dir` for reading only; writes fail. A missing `dir` reads as empty.
    /// Fails while a writer has it open.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let empty = |lock| Self {
            dir: dir.to_owned(),
            options: Options::default(),
            state: RwLock::new(State::default()),
            writer: None,
            _lock: lock,
        };
        if !dir.is_dir() {
            return Ok(empty(None));
        }
        let lock = files::lock(dir, true)?;
        let listing = files::list(dir)?;
        let Some(meta) = files::read_meta(dir)? else {
            return if listing.has_data() {
                Err(missing_meta(dir))
            } else {
                Ok(empty(Some(lock)))
            };
        };
        let rec = recover::recover(dir, &meta, &listing)?;
        Ok(Self {
            dir: dir.to_owned(),
            options: Options::default(),
            state: RwLock::new(rec.state),
            writer: None,
            _lock: Some(lock),
        })
    }

    /// The directory this index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a snapshot and starts a new log generation now, whatever the dead/live ratio.
    pub fn compact(&self) -> Result<()> {
        let mut w = self.writer()?;
        let state = self.read_state()?;
        w.disk_bytes = snapshot::compact(&self.dir, &state, &mut w.log)?;
        Ok(())
    }

    fn writer(&self) -> Result<MutexGuard<'_, Writer>> {
        let w = self.writer.as_ref().ok_or_else(|| {
            Error::index(
                format!(
                    "index at {} is open read-only; writing needs a process that holds it open \
                     for writing",
                    self.dir.display()
                ),
                false,
            )
        })?;
        w.lock().map_err(|_| poisoned())
    }

    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| poisoned())
    }

    fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(|_| poisoned())
    }

    fn dims_mismatch(&self, have: usize, want: usize) -> Error {
        Error::index(
            format!(
                "index at {} holds {have}-dim vectors; this model makes {want}-dim vectors: use \
                 another data dir or re-index",
                self.dir.display()
            ),
            false,
        )
    }

    /// After a write: compacts if dead bytes outweigh live ones. The write is already durable,
    /// so a failed compaction is only logged (the next write tries again).
    fn maybe_compact(&self, w: &mut Writer) {
        let Ok(state) = self.read_state() else { return };
        let live = state.live_bytes;
        let dead = w.disk_bytes.saturating_sub(live);
        if dead <= live || dead <= self.options.compact_min_dead_bytes {
            return;
        }
        match snapshot::compact(&self.dir, &state, &mut w.log) {
            Ok(size) => {
                tracing::debug!(dir = %self.dir.display(), dead, live, size, "index compacted");
                w.disk_bytes = size;
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "index compaction failed: {}", e.report());
            }
        }
    }
}

fn poisoned() -> Error {
    Error::index(
        "index state is unusable after a panic in another thread; reopen it",
        false,
    )
}

fn missing_meta(dir: &Path) -> Error {
    Error::index(
        format!(
            "index at {} has data files but no meta.json; restore it or re-index",
            dir.display()
        ),
        false,
    )
}

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    async fn ensure_collection(&self, dims: usize) -> Result<()> {
        if let Some(have) = self.read_state()?.dims {
            return if have == dims {
                Ok(())
            } else {
                Err(self.dims_mismatch(have, dims))
            };
        }
        if dims == 0 {
            return Err(Error::index("ensure_collection: dims must be > 0", false));
        }
        let _w = self.writer()?;
        let mut state = self.write_state()?;
        match state.dims {
            // Another thread got here first.
            Some(have) if have != dims => Err(self.dims_mismatch(have, dims)),
            Some(_) => Ok(()),
            None => {
                files::write_meta(
                    &self.dir,
                    &Meta {
                        format: files::FORMAT,
                        dims: Some(dims),
                    },
                )?;
                state.dims = Some(dims);
                Ok(())
            }
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<()> {
        let mut w = self.writer()?;
        let Some(dims) = self.read_state()?.dims else {
            return Err(Error::index(
                format!(
                    "index at {}: upsert before ensure_collection (the vector dimension is not set)",
                    self.dir.display()
                ),
                false,
            ));
        };
        if points.is_empty() {
            return Ok(());
        }
        let mut stored = Vec::with_capacity(points.len());
        for p in points {
            if p.vector.len() != dims {
                return Err(self.dims_mismatch(dims, p.vector.len()));
            }
            if p.vector.iter().any(|x| !x.is_finite()) {
                return Err(Error::index(
                    format!("point {} has a NaN or infinite value", p.id),
                    false,
                ));
            }
            let mut vector = p.vector;
            search::normalize(&mut vector);
            stored.push(StoredPoint {
                id: p.id,
                vector,
                payload: p.payload,
                bytes: 0,
            });
        }
        let mut frame = Vec::new();
        let rows = stored
            .iter()
            .map(|p| (&p.id, p.vector.as_slice(), &p.payload));
        let sizes = codec::encode_upsert(&mut frame, dims, rows)?;
        for (p, size) in stored.iter_mut().zip(sizes) {
            p.bytes = size;
        }
        w.log.append(&frame)?;
        w.disk_bytes += frame.len() as u64;
        self.write_state()?.upsert(stored);
        self.maybe_compact(&mut w);
        Ok(())
    }

    async fn delete_doc_except(
        &self,
        tenant: &str,
        doc_id: &str,
        keep: &VersionKey,
    ) -> Result<u64> {
        let mut w = self.writer()?;
        if self
            .read_state()?
            .stale_points(tenant, doc_id, keep)
            .is_empty()
        {
            return Ok(0);
        }
        let op = Op::DeleteDocExcept {
            tenant: tenant.to_owned(),
            doc_id: doc_id.to_owned(),
            keep: keep.clone(),
        };
        let mut frame = Vec::new();
        codec::encode_small(&mut frame, &op)?;
        w.log.append(&frame)?;
        w.disk_bytes += frame.len() as u64;
        let deleted = self.write_state()?.delete_doc_except(tenant, doc_id, keep);
        self.maybe_compact(&mut w);
        Ok(deleted)
    }

    async fn doc_versions(&self, tenant: &str, doc_id: &str) -> Result<Vec<DocVersion>> {
        Ok(self.read_state()?.doc_versions(tenant, doc_id))
    }

    async fn search(&self, query: &[f32], filter: &Filter, top_k: usize) -> Result<Vec<SearchHit>> {
        let state = self.read_state()?;
        let Some(dims) = state.dims else {
            return Ok(Vec::new());
        };
        if query.len() != dims {
            return Err(Error::index(
                format!(
                    "query has {} dims; index at {} holds {dims}-dim vectors",
                    query.len(),
                    self.dir.display()
                ),
                false,
            ));
        }
        let mut q = query.to_vec();
        search::normalize(&mut q);
        Ok(search::search(&state, &q, filter, top_k))
    }

    async fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        top_k: usize,
    ) -> Result<Vec<SearchHit>> {
        let query = keyword::query_terms(text);
        let state = self.read_state()?;
        let in_scope = |id: &uuid::Uuid| {
            state
                .row_of(id)
                .is_some_and(|r| filter.matches(&state.payloads[r]))
        };
        let hits = state
            .keyword
            .search(&filter.tenant, &query, in_scope, top_k);
        Ok(hits
            .into_iter()
            .filter_map(|(id, score)| {
                let r = state.row_of(&id)?;
                Some(SearchHit {
                    id,
                    score,
                    payload: state.payloads[r].clone(),
                })
            })
            .collect())
    }

    async fn facets(&self, filter: &Filter, limit: usize) -> Result<Facets> {
        Ok(self.read_state()?.facets(filter, limit))
    }

    async fn stats(&self) -> Result<Vec<TenantStats>> {
        Ok(self.read_state()?.stats())
    }
}
