//! `docfleet bench embed` and `docfleet bench run <dir>`: throughput figures, printed.
//! Benchmarks live here, never in timed tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use docfleet_models::Embedder;

use crate::commands::run::run_batch;
use crate::settings::{CommonOpts, EmbedBackend, EmbedPrecisionOpt, PipelineOpts};
use crate::wiring;

/// Figures measured on the project's 2-core machines (docs/ENVIRONMENT in the steering repo),
/// printed beside ours for orientation; they are not measured by this run.
const REFERENCE: &str = "reference on the 2-core dev machines, 512 texts of ~200 tokens: \
candle 0.11 naive BERT ~17.5 texts/s; onnxruntime 1.31 f32 ~40 texts/s";

const WORDS: &[&str] = &[
    "the",
    "queue",
    "worker",
    "document",
    "vector",
    "index",
    "search",
    "model",
    "token",
    "page",
    "river",
    "mountain",
    "history",
    "energy",
    "market",
    "protein",
    "language",
    "system",
    "network",
    "storage",
    "quickly",
    "carefully",
    "between",
    "under",
    "because",
    "although",
    "bright",
    "cold",
    "ancient",
    "modern",
    "scientists",
    "engineers",
    "measured",
    "observed",
    "built",
    "shipped",
    "Paris",
    "2024",
    "kilometres",
    "percent",
    "analysis",
    "results",
    "growth",
    "failure",
    "retry",
];

/// Deterministic pseudo-random texts of about `words` words each (±25%), so lengths vary as in
/// real chunks and padding is exercised.
pub fn synthetic_texts(count: usize, words: usize) -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    (0..count)
        .map(|_| {
            let n = words * 3 / 4 + next() % (words / 2 + 1);
            let mut text = String::new();
            for i in 0..n {
                if i > 0 {
                    text.push(if i % 12 == 0 { '.' } else { ' ' });
                    if i % 12 == 0 {
                        text.push(' ');
                    }
                }
                text.push_str(WORDS[next() % WORDS.len()]);
            }
            text.push('.');
            text
        })
        .collect()
}

pub fn bench_embed(
    common: &CommonOpts,
    texts: usize,
    words: usize,
    batch_sizes: &[usize],
    precisions: &[EmbedPrecisionOpt],
    texts_json: Option<&Path>,
) -> Result<()> {
    ensure!(
        texts > 0 && !batch_sizes.is_empty(),
        "need at least one text and one batch size"
    );
    let corpus = synthetic_texts(texts, words);
    if let Some(path) = texts_json {
        std::fs::write(path, serde_json::to_vec(&corpus)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let refs: Vec<&str> = corpus.iter().map(String::as_str).collect();
    let probe = wiring::load_embedder(common, 1 << 20)?;
    // What the model sees: special tokens included, truncated to its max_tokens.
    let tokens: Vec<usize> = corpus
        .iter()
        .map(|t| probe.input_ids(t).map(|ids| ids.len()))
        .collect::<Result<_, _>>()?;
    let total_tokens: usize = tokens.iter().sum();
    let longest = tokens.iter().copied().max().unwrap_or(1);
    println!(
        "bench embed: model {} ({} dims), {} texts, {:.0} tokens/text on average (max {}), {}",
        probe.model_id(),
        probe.dims(),
        texts,
        total_tokens as f64 / texts as f64,
        longest,
        probe.encoder(),
    );
    // The model's arithmetic on these texts, and the matmul peak of this machine measured now.
    let gflop: f64 = tokens
        .iter()
        .map(|&t| probe.config().flops_per_text(t))
        .sum::<f64>()
        / 1e9;
    let peak = docfleet_models::matmul_peak_gflops(probe.device(), probe.threads(), 1024, 1.0)?;
    println!("f32 matmul peak measured now: {peak:.0} GFLOP/s; the texts cost {gflop:.0} GFLOP");
    // Low precisions are the CPU encoder's: on a GPU (or candle's encoder) f32 alone.
    let cpu_encoder = probe.device().is_cpu() && common.embed_backend == EmbedBackend::Auto;
    drop(probe);
    println!(
        "{:>9} {:>6} {:>10} {:>12} {:>9} {:>8} {:>7} {:>6}",
        "precision", "batch", "texts/s", "tokens/s", "secs", "GFLOP/s", "% peak", "x f32"
    );
    let mut f32_rates: Vec<(usize, f64)> = Vec::new();
    for precision in bench_precisions(precisions, cpu_encoder) {
        let mut common = common.clone();
        common.embed_precision = precision;
        for &batch in batch_sizes {
            let embedder = wiring::load_embedder(&common, batch.max(1) * longest)?;
            embedder.embed(&refs[..batch.min(refs.len())])?; // warm-up: allocations, caches
            let started = Instant::now();
            let vectors = embedder.embed(&refs)?;
            let secs = started.elapsed().as_secs_f64();
            ensure!(
                vectors.len() == texts,
                "model returned {} vectors for {texts} texts",
                vectors.len()
            );
            let rate = texts as f64 / secs;
            let name = embedder.precision().name();
            if name == "f32" {
                f32_rates.push((batch, rate));
            }
            let speedup = f32_rates
                .iter()
                .find(|(b, _)| *b == batch)
                .map_or_else(|| "-".to_owned(), |(_, f)| format!("{:.2}", rate / f));
            println!(
                "{name:>9} {batch:>6} {rate:>10.1} {:>12.0} {secs:>9.2} {:>8.0} {:>6.0}% {speedup:>6}",
                total_tokens as f64 / secs,
                gflop / secs,
                100.0 * gflop / secs / peak
            );
        }
    }
    if let Some(rss) = crate::peak_memory::peak_rss_bytes() {
        println!("peak RSS {:.0} MiB", rss as f64 / (1 << 20) as f64);
    }
    println!("({REFERENCE})");
    Ok(())
}

/// The precisions asked for, or f32 and then (on the CPU encoder) every lower precision this CPU
/// has.
fn bench_precisions(asked: &[EmbedPrecisionOpt], cpu_encoder: bool) -> Vec<EmbedPrecisionOpt> {
    if !asked.is_empty() {
        return asked.to_vec();
    }
    let mut all = vec![EmbedPrecisionOpt::F32];
    if !cpu_encoder {
        return all;
    }
    for (opt, precision) in [
        (EmbedPrecisionOpt::Bf16, docfleet_models::Precision::Bf16),
        (EmbedPrecisionOpt::Int8, docfleet_models::Precision::Int8),
    ] {
        if precision.supported() {
            all.push(opt);
        }
    }
    all
}

pub async fn bench_run(
    common: &CommonOpts,
    opts: &PipelineOpts,
    dir: PathBuf,
    keep_data: bool,
) -> Result<()> {
    // A fresh data dir, so every document is processed (nothing skipped as unchanged).
    let scratch = tempfile::tempdir()?;
    let mut common = common.clone();
    common.data_dir = scratch.path().to_owned();
    let report = run_batch(&common, opts, None, &[dir], &Default::default(), false).await?;
    let secs = report.wall_secs.max(1e-9);
    let t = &report.lane_totals;
    println!(
        "bench run: {} documents ({} indexed, {} failed) in {:.2} s",
        report.documents,
        report.indexed,
        report.failed.len(),
        report.wall_secs
    );
    println!(
        "{:.2} docs/s, {:.1} pages/s, {:.1} chunks/s, {:.0} tokens/s",
        report.indexed as f64 / secs,
        report.pages as f64 / secs,
        report.chunks as f64 / secs,
        report.tokens as f64 / secs,
    );
    println!(
        "embed lane busy {:.1} s = {:.0}% of wall time; per-document lane sums: extract {:.1} s, chunk {:.1} s, embed {:.1} s (incl. queueing), index+artifacts {:.1} s",
        report.embed_busy_secs,
        100.0 * report.embed_busy_secs / secs,
        t.extract_ms / 1e3,
        t.chunk_ms / 1e3,
        t.embed_ms / 1e3,
        t.index_ms / 1e3,
    );
    if let Some(rss) = report.peak_rss_bytes {
        println!("peak RSS {:.0} MiB", rss as f64 / (1 << 20) as f64);
    }
    if report.ocr_pages > 0 {
        // OCR dominates such runs, so the wall-time rate is the extractors' rate.
        let processes = opts.extract_processes.max(1);
        let rate = report.ocr_pages as f64 / secs;
        println!(
            "OCR: {} pages at {rate:.2} pages/s of wall time with {processes} extractor processes ({:.2} pages/s each, {} dpi)",
            report.ocr_pages,
            rate / processes as f64,
            opts.ocr.ocr_dpi,
        );
    }
    for f in &report.failed {
        println!("FAILED {}: {}", f.file, f.error);
    }
    if keep_data {
        println!("data kept in {}", scratch.keep().display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_texts_are_deterministic_and_vary_in_length() {
        let a = super::synthetic_texts(20, 40);
        assert_eq!(a, super::synthetic_texts(20, 40));
        let lens: std::collections::BTreeSet<_> = a.iter().map(|t| t.split(' ').count()).collect();
        assert!(lens.len() > 3, "lengths vary: {lens:?}");
    }
}
