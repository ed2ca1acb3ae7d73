//! The write-ahead log: durable appends, and replay that stops at the first torn or corrupt frame.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::codec::{self, Frame, FrameReader, Op};
use super::files;
use crate::{Error, Result};

/// The open log that appends go to.
#[derive(Debug)]
pub(super) struct LogWriter {
    file: File,
    pub path: PathBuf,
    pub generation: u64,
    /// Bytes of whole, synced frames: where the next frame starts.
    pub len: u64,
    /// Set when the file's state is unknown after an I/O error that could not be undone.
    poisoned: Option<String>,
}

impl LogWriter {
    /// Creates (or empties) the log of `generation`. The caller syncs the directory.
    pub fn create(dir: &Path, generation: u64) -> io::Result<Self> {
        let path = files::log_path(dir, generation);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.sync_all()?;
        Self::from_file(file, path, generation, 0)
    }

    /// Opens an existing log for appending, cutting it to `good_len` (the end of its last good
    /// frame, as replay found it).
    pub fn open(dir: &Path, generation: u64, good_len: u64) -> io::Result<Self> {
        let path = files::log_path(dir, generation);
        let file = OpenOptions::new().write(true).open(&path)?;
        if file.metadata()?.len() != good_len {
            file.set_len(good_len)?;
            file.sync_all()?;
        }
        Self::from_file(file, path, generation, good_len)
    }

    fn from_file(file: File, path: PathBuf, generation: u64, len: u64) -> io::Result<Self> {
        let mut w = Self {
            file,
            path,
            generation,
            len,
            poisoned: None,
        };
        w.seek_end()?;
        Ok(w)
    }

    fn seek_end(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.file.seek(io::SeekFrom::Start(self.len)).map(drop)
    }

    pub fn poison(&mut self, why: String) {
        self.poisoned = Some(why);
    }

    /// Appends whole frames and syncs them: durable when this returns `Ok`. On failure the file
    /// is cut back to its previous length, so a half-written frame never precedes later ones.
    pub fn append(&mut self, frames: &[u8]) -> Result<()> {
        if let Some(why) = &self.poisoned {
            return Err(Error::index(
                format!(
                    "index log {} is unusable after an earlier I/O error ({why}); reopen the index",
                    self.path.display()
                ),
                true,
            ));
        }
        match self
            .file
            .write_all(frames)
            .and_then(|()| self.file.sync_data())
        {
            Ok(()) => {
                self.len += frames.len() as u64;
                Ok(())
            }
            Err(e) => {
                let undo = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_data())
                    .and_then(|()| self.seek_end());
                if let Err(undo) = undo {
                    self.poison(format!("append failed: {e}; cutting back failed: {undo}"));
                }
                Err(e.into())
            }
        }
    }
}

/// How a replay ended.
#[derive(Debug)]
pub(super) struct Replayed {
    /// End of the last good frame.
    pub good_len: u64,
}

/// Applies every good frame of the log at `path` in order. A torn or corrupt frame ends the
/// replay: it and everything after it are ignored (and cut off by a writer, see
/// [`LogWriter::open`]), with a warning. `apply` errors (undecodable bodies) are fatal.
pub(super) fn replay(path: &Path, mut apply: impl FnMut(Op) -> Result<()>) -> Result<Replayed> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = FrameReader::new(file, file_len);
    loop {
        let at = reader.offset;
        match reader.next_frame()? {
            Frame::Good(body) => {
                let op = codec::decode(&body).map_err(|e| {
                    Error::index(
                        format!(
                            "index log {} has an unreadable record at byte {}: {e}",
                            path.display(),
                            at
                        ),
                        false,
                    )
                })?;
                apply(op)?;
            }
            Frame::End => break,
            Frame::Bad(why) => {
                tracing::warn!(
                    log = %path.display(),
                    at = reader.offset,
                    dropped_bytes = file_len - reader.offset,
                    "index log ends in a torn or corrupt record ({why}); dropping it and \
                     everything after it"
                );
                break;
            }
        }
    }
    Ok(Replayed {
        good_len: reader.offset,
    })
}
