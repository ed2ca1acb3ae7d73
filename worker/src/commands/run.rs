//! `docfleet run <paths>...`: a local batch through the four lanes on embedded defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use docfleet_core::job::JobOptions;
use docfleet_pipeline::Result as PipelineResult;
use docfleet_pipeline::artifacts::LaneTimings;
use docfleet_pipeline::process::{DocJob, Outcome, Processor};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::local_files::{SourceFile, discover};
use crate::peak_memory::peak_rss_bytes;
use crate::profile::ActiveProfile;
use crate::progress::Progress;
use crate::settings::{CommonOpts, PipelineOpts};
use crate::wiring;
use docfleet_pipeline::source::read_file_capped;

#[derive(Debug, Clone, Serialize)]
pub struct FailedDoc {
    pub file: String,
    pub error: String,
    pub retryable: bool,
}

/// What a run did, for the summary, `--json` and benchmarks.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RunReport {
    pub documents: u64,
    pub indexed: u64,
    pub unchanged: u64,
    pub failed: Vec<FailedDoc>,
    pub pages: u64,
    /// Pages read by OCR.
    pub ocr_pages: u64,
    pub chunks: u64,
    pub tokens: u64,
    pub points: u64,
    pub wall_secs: f64,
    /// Sum over documents of each lane's time (lanes overlap across documents).
    pub lane_totals: LaneTimings,
    /// Time the model thread spent computing.
    pub embed_busy_secs: f64,
    pub peak_rss_bytes: Option<u64>,
}

impl RunReport {
    fn record(&mut self, file: &SourceFile, result: PipelineResult<Outcome>) {
        match result {
            Ok(Outcome::Indexed(m)) => {
                self.indexed += 1;
                self.pages += m.pages;
                self.ocr_pages += m.ocr_pages;
                self.chunks += m.chunks;
                self.tokens += m.tokens;
                self.points += m.points;
                let (t, l) = (&mut self.lane_totals, &m.timings);
                t.extract_ms += l.extract_ms;
                t.chunk_ms += l.chunk_ms;
                t.embed_ms += l.embed_ms;
                t.index_ms += l.index_ms;
                t.total_ms += l.total_ms;
            }
            Ok(Outcome::Unchanged(_)) => self.unchanged += 1,
            Err(e) => self.failed.push(FailedDoc {
                file: file.display.clone(),
                error: e.report().to_string(),
                retryable: e.is_retryable(),
            }),
        }
    }

    pub fn print_summary(&self) {
        let secs = self.wall_secs.max(1e-9);
        println!(
            "{} documents: {} indexed, {} unchanged, {} failed",
            self.documents,
            self.indexed,
            self.unchanged,
            self.failed.len()
        );
        println!(
            "{} pages, {} chunks, {} points, {} tokens in {:.1} s ({:.2} docs/s, {:.1} pages/s, {:.1} chunks/s)",
            self.pages,
            self.chunks,
            self.points,
            self.tokens,
            self.wall_secs,
            self.indexed as f64 / secs,
            self.pages as f64 / secs,
            self.chunks as f64 / secs,
        );
        for f in &self.failed {
            eprintln!("FAILED {}: {}", f.file, f.error);
        }
    }
}

async fn process_file(
    allowed: bool,
    processor: Processor,
    tenant: String,
    file: SourceFile,
    tags: BTreeMap<String, String>,
) -> PipelineResult<Outcome> {
    if !allowed {
        return Err(docfleet_pipeline::Error::profile(
            format!(
                "{} is not under the tenant's allowed source prefixes",
                file.uri()
            ),
            false,
        ));
    }
    let bytes = read_file_capped(&file.path, processor.max_file_bytes).await?;
    let job = DocJob {
        tenant,
        source: file.uri(),
        file_name: file.file_name(),
        bytes,
        tags,
    };
    processor.process(job).await
}

/// Processes every document under `paths`, each with `tags`; one document's failure never
/// stops the others.
pub async fn run_batch(
    common: &CommonOpts,
    opts: &PipelineOpts,
    profile: Option<&ActiveProfile>,
    paths: &[PathBuf],
    tags: &BTreeMap<String, String>,
    show_progress: bool,
) -> Result<RunReport> {
    let tenant = common.tenant()?.to_owned();
    let files = discover(paths)?;
    let pipelines = wiring::build_pipelines(common, opts, None).await?;
    let job = pipelines.for_job(&JobOptions::default(), profile).await?;
    let processor = job.processor.clone();
    let lane_stats = processor.embed.stats();
    let started = Instant::now();
    let mut progress = Progress::new(files.len(), show_progress);
    let mut report = RunReport {
        documents: files.len() as u64,
        ..Default::default()
    };

    let mut pending = files.into_iter();
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() < opts.concurrency.max(1) {
            let Some(file) = pending.next() else { break };
            let allowed = profile.is_none_or(|a| a.profile.allows_source(&file.uri()));
            let task = process_file(
                allowed,
                processor.clone(),
                tenant.clone(),
                file.clone(),
                tags.clone(),
            );
            in_flight.spawn(async move { (file, task.await) });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (file, result) = joined?;
        let (pages, chunks) = match &result {
            Ok(Outcome::Indexed(m)) => (m.pages, m.chunks),
            _ => (0, 0),
        };
        if let Err(e) = &result {
            // The summary prints one FAILED line per document; the log line is for tracing.
            tracing::info!(file = %file.display, error = %e.report(), "document failed");
        }
        progress.document_done(pages, chunks, result.is_err());
        report.record(&file, result);
    }
    progress.finish();
    report.failed.sort_by(|a, b| a.file.cmp(&b.file));
    report.wall_secs = started.elapsed().as_secs_f64();
    report.embed_busy_secs = lane_stats.busy_secs();
    report.peak_rss_bytes = peak_rss_bytes();
    Ok(report)
}
