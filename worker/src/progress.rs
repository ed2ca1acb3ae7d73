//! Progress of a local batch run: documents, pages, chunks and rate on one line. Hidden when
//! stderr is not a terminal (indicatif's default), so logs and CI output stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    pages: u64,
    chunks: u64,
    failed: u64,
}

impl Progress {
    pub fn new(docs: usize, visible: bool) -> Self {
        let bar = if visible {
            ProgressBar::new(docs as u64)
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} docs  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            pages: 0,
            chunks: 0,
            failed: 0,
        }
    }

    pub fn document_done(&mut self, pages: u64, chunks: u64, failed: bool) {
        self.pages += pages;
        self.chunks += chunks;
        self.failed += u64::from(failed);
        let secs = self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} pages, {} chunks ({:.1} chunks/s){}",
            self.pages,
            self.chunks,
            self.chunks as f64 / secs,
            if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            }
        ));
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
