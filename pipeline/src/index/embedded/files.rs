//! The directory layout: file names, the meta file, the lock file and directory fsync.
//!
//! ```text
//! DIR/LOCK                       advisory lock (exclusive: writer, shared: readers)
//! DIR/meta.json                  {"format": 1, "dims": 384}, replaced by write-then-rename
//! DIR/snap-<gen>.snap            full state after every log of an earlier generation
//! DIR/wal-<gen>.log              write-ahead log of generation <gen>
//! DIR/*.tmp                      a write-then-rename that did not finish: ignored, removed
//! ```

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// On-disk format this code reads and writes.
pub(super) const FORMAT: u32 = 1;
const META: &str = "meta.json";
const LOCK: &str = "LOCK";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Meta {
    pub format: u32,
    pub dims: Option<usize>,
}

pub(super) fn log_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation:020}.log"))
}

pub(super) fn snap_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snap-{generation:020}.snap"))
}

pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// The data files of a directory, generations sorted ascending.
#[derive(Debug, Default)]
pub(super) struct Listing {
    pub logs: Vec<u64>,
    pub snaps: Vec<u64>,
    pub tmps: Vec<PathBuf>,
}

impl Listing {
    pub fn has_data(&self) -> bool {
        !self.logs.is_empty() || !self.snaps.is_empty()
    }
}

pub(super) fn list(dir: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let generation = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse::<u64>()
                .ok()
        };
        if name.ends_with(".tmp") {
            out.tmps.push(entry.path());
        } else if let Some(g) = generation("wal-", ".log") {
            out.logs.push(g);
        } else if let Some(g) = generation("snap-", ".snap") {
            out.snaps.push(g);
        }
    }
    out.logs.sort_unstable();
    out.snaps.sort_unstable();
    Ok(out)
}

/// Makes renames, creations and deletions in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes`, all or nothing: a crash leaves the old file or the new one
/// (and maybe a `.tmp` that the next open removes).
pub(super) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let path = dir.join(name);
    let tmp = tmp_path(&path);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    sync_dir(dir)
}

pub(super) fn read_meta(dir: &Path) -> Result<Option<Meta>> {
    let bytes = match fs::read(dir.join(META)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
        Error::index_caused_by(
            format!("index at {}: unreadable {META}", dir.display()),
            e,
            false,
        )
    })?;
    if meta.format != FORMAT {
        return Err(Error::index(
            format!(
                "index at {} has on-disk format {}; this docfleet reads format {FORMAT}: \
                 use a matching docfleet or re-index into another data dir",
                dir.display(),
                meta.format
            ),
            false,
        ));
    }
    Ok(Some(meta))
}

pub(super) fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let bytes = serde_json::to_vec(meta).map_err(io::Error::other)?;
    Ok(write_atomic(dir, META, &bytes)?)
}

/// Takes the directory's advisory lock, held as long as the returned file lives.
pub(super) fn lock(dir: &Path, shared: bool) -> Result<File> {
    let path = dir.join(LOCK);
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(f) => f,
        // A reader may lack write access: an existing lock file is enough for a shared lock.
        Err(e) if shared => File::open(&path).map_err(|_| e)?,
        Err(e) => return Err(e.into()),
    };
    let res = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match res {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::IndexInUse {
            dir: dir.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}
