//! Extraction in child processes: a hostile document that crashes or hangs PDFium fails alone,
//! and several documents extract in parallel (PDFium is not thread-safe, so one process
//! extracts one document at a time).
//!
//! Each child runs [`serve_extraction`](super::serve_extraction) (in docfleet:
//! `docfleet extract-worker`) and speaks the [`wire`](super::wire) protocol. Idle children are
//! kept for the next document, since starting one costs a PDFium bind; a child that crashed,
//! timed out or garbled its answer is never reused.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::child_handle::{ExtractorCommand, ExtractorProcess, NoAnswer};
use super::wire::{RequestHeader, Response};
use super::{ExtractOptions, Extractor, MediaType};
use crate::{Error, Page, Result};

/// An [`Extractor`] that hands each document to a child process, at most `processes` at once.
pub struct ProcessPoolExtractor {
    command: ExtractorCommand,
    timeout: Duration,
    options: ExtractOptions,
    max_body_bytes: u64,
    slots: Mutex<Slots>,
    slot_freed: Condvar,
}

struct Slots {
    /// Children waiting for work; dropping them (with the pool) kills and reaps them.
    idle: Vec<ExtractorProcess>,
    busy: usize,
    max: usize,
}

impl ProcessPoolExtractor {
    /// A pool of at most `processes` children (at least 1), each document getting `timeout`.
    /// Children start on demand. Options default to [`ExtractOptions::default`] and 100 MiB
    /// documents; see [`Self::with_options`]. `timeout` counts from the request or from the
    /// child's last heartbeat (each OCR'd page sends one), so it bounds a hang, not a long scan.
    pub fn new(command: ExtractorCommand, processes: usize, timeout: Duration) -> Self {
        Self {
            command,
            timeout,
            options: ExtractOptions::default(),
            max_body_bytes: 100 * 1024 * 1024,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                busy: 0,
                max: processes.max(1),
            }),
            slot_freed: Condvar::new(),
        }
    }

    /// `options` travel with each request; larger documents than `max_body_bytes` are refused
    /// here, as the child refuses larger frames (give it the same value).
    pub fn with_options(mut self, options: ExtractOptions, max_body_bytes: u64) -> Self {
        self.options = options;
        self.max_body_bytes = max_body_bytes;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot; returns it with an idle child if there is one.
    fn acquire(&self) -> Slot<'_> {
        let mut slots = self.lock();
        while slots.busy >= slots.max {
            slots = self
                .slot_freed
                .wait(slots)
                .unwrap_or_else(|p| p.into_inner());
        }
        slots.busy += 1;
        let process = slots.idle.pop();
        Slot {
            pool: self,
            process,
        }
    }

    fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs_f64().ceil() as u64
    }
}

/// A busy slot; gives the slot back (with its child, if that is still usable) when dropped.
struct Slot<'a> {
    pool: &'a ProcessPoolExtractor,
    process: Option<ExtractorProcess>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut slots = self.pool.lock();
        slots.busy -= 1;
        slots.idle.extend(self.process.take());
        drop(slots);
        self.pool.slot_freed.notify_one();
    }
}

impl Extractor for ProcessPoolExtractor {
    fn options(&self) -> &ExtractOptions {
        &self.options
    }

    fn extract_with_options(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        options: &ExtractOptions,
    ) -> Result<Vec<Page>> {
        let size_bytes = bytes.len() as u64;
        if size_bytes > self.max_body_bytes.min(u64::from(u32::MAX)) {
            return Err(Error::TooLarge {
                size_bytes,
                limit_bytes: self.max_body_bytes,
            });
        }
        let header = serde_json::to_vec(&RequestHeader {
            media_type: media_type.as_str().to_owned(),
            options: options.clone(),
        })
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;

        let mut slot = self.acquire();
        let idle = slot
            .process
            .take()
            .and_then(|mut p| p.is_alive().then_some(p));
        let mut process = match idle {
            Some(p) => p,
            None => ExtractorProcess::spawn(&self.command).map_err(|e| {
                // The machine's problem (missing binary, no fds), not the document's: retryable.
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!(
                        "starting the extractor process {}: {e}",
                        self.command.program.display()
                    ),
                ))
            })?,
        };
        match process.request(&header, bytes, self.timeout) {
            Ok(frame) => match serde_json::from_slice::<Response>(&frame) {
                Ok(answer) => {
                    slot.process = Some(process); // healthy: keep it for the next document
                    match answer {
                        Response::Ok(pages) => Ok(pages),
                        Response::Err(e) => Err(e.into()),
                    }
                }
                Err(e) => Err(Error::ExtractorCrashed(format!(
                    "the extractor process sent an invalid answer ({e})"
                ))),
            },
            Err(NoAnswer::TimedOut) => Err(Error::ExtractTimeout {
                secs: self.timeout_secs(),
            }),
            Err(NoAnswer::Closed) => Err(Error::ExtractorCrashed(process.death_report())),
            Err(NoAnswer::Garbled(e)) => Err(Error::ExtractorCrashed(format!(
                "the extractor process sent an invalid answer ({e})"
            ))),
        }
        // A process not put back in the slot is dropped here: killed and reaped.
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
