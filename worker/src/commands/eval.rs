//! `docfleet eval <dir>`: retrieval quality on a BEIR dataset folder. Indexes the corpus through
//! the usual pipeline (one document per entry, `beir://<folder>/<_id>`; unchanged documents are
//! skipped on a re-run with the same data dir), then runs every test query in each search mode
//! through the one search path and reports nDCG@10, recall@10, recall@100, MRR@10 and
//! queries/s per mode.

pub mod beir;
pub mod metrics;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use docfleet_models::Embedder;
use docfleet_pipeline::doc::doc_id;
use docfleet_pipeline::index::{Filter, Fusion, SearchMode, VectorIndex};
use docfleet_pipeline::process::{DocJob, Outcome, Processor};
use docfleet_pipeline::search::{SearchRequest, search};
use serde::Serialize;
use tokio::task::JoinSet;

use self::beir::{CorpusDoc, Dataset, Query};
use self::metrics::{Scores, collapse};
use crate::settings::{CommonOpts, PipelineOpts};
use crate::wiring;

/// Chunks asked for per query; documents are ranked by their best chunk among them.
const TOP_K_CHUNKS: usize = 100;
/// A progress line on stderr every this many documents.
const PROGRESS_EVERY: usize = 500;

/// What indexing the corpus did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IndexingReport {
    pub documents: usize,
    pub indexed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub chunks: u64,
    pub wall_secs: f64,
}

/// One mode's figures, averaged over the queries.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    pub mode: &'static str,
    #[serde(flatten)]
    pub scores: Scores,
    pub queries_per_sec: f64,
    pub search_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub dataset: String,
    pub queries: usize,
    pub documents: usize,
    pub indexing: IndexingReport,
    pub modes: Vec<ModeReport>,
}

pub async fn eval(
    common: &CommonOpts,
    pipeline: &PipelineOpts,
    dir: &Path,
    modes: &[SearchMode],
    max_queries: usize,
    json: bool,
) -> Result<()> {
    if modes.is_empty() {
        bail!("no search mode to evaluate");
    }
    let tenant = common.tenant()?.to_owned();
    let dataset = beir::load(dir, max_queries)?;
    if !json {
        eprintln!(
            "{}: {} documents, {} test queries",
            dataset.name,
            dataset.corpus.len(),
            dataset.queries.len()
        );
    }
    let processor = wiring::build_processor(common, pipeline).await?;
    let indexing = index_corpus(&processor, &tenant, &dataset, pipeline.concurrency, !json).await?;
    if !json {
        eprintln!(
            "indexed in {:.1} s: {} indexed, {} unchanged, {} failed",
            indexing.wall_secs, indexing.indexed, indexing.unchanged, indexing.failed
        );
    }

    // The corpus id of each document of this dataset, by the pipeline's doc id.
    let by_doc_id: HashMap<String, &str> = dataset
        .corpus
        .iter()
        .map(|d| {
            (
                doc_id(&tenant, &source_of(&dataset.name, &d.id)),
                d.id.as_str(),
            )
        })
        .collect();
    // One model for every query (the processor's lane batches documents; queries go one by one).
    let embedder = wiring::load_embedder(common, 4096)?;
    // One untimed call first: the model's one-off start-up is not a query's cost.
    embedder.embed(&["warm-up"])?;
    let mut reports = Vec::new();
    for &mode in modes {
        let report = eval_mode(
            processor.index.as_ref(),
            embedder.as_ref(),
            &tenant,
            mode,
            &dataset.queries,
            &by_doc_id,
        )
        .await?;
        if !json {
            eprintln!(
                "{}: {} queries at {:.1} queries/s",
                report.mode,
                dataset.queries.len(),
                report.queries_per_sec
            );
        }
        reports.push(report);
    }

    let report = EvalReport {
        dataset: dataset.name.clone(),
        queries: dataset.queries.len(),
        documents: dataset.corpus.len(),
        indexing,
        modes: reports,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn source_of(dataset: &str, id: &str) -> String {
    format!("beir://{dataset}/{id}")
}

fn job_of(tenant: &str, dataset: &str, doc: &CorpusDoc) -> DocJob {
    DocJob {
        tenant: tenant.to_owned(),
        source: source_of(dataset, &doc.id),
        file_name: Some(format!("{}.txt", doc.id)),
        bytes: doc.body().into_bytes(),
        tags: Default::default(),
    }
}

/// Every corpus entry through the processor, `concurrency` at a time (the pattern of
/// `run_batch`); a failed document is reported and left out, it does not stop the others.
async fn index_corpus(
    processor: &Processor,
    tenant: &str,
    dataset: &Dataset,
    concurrency: usize,
    progress: bool,
) -> Result<IndexingReport> {
    let started = Instant::now();
    let total = dataset.corpus.len();
    let mut report = IndexingReport {
        documents: total,
        ..Default::default()
    };
    let mut pending = dataset.corpus.iter();
    let mut in_flight = JoinSet::new();
    let mut done = 0;
    loop {
        while in_flight.len() < concurrency.max(1) {
            let Some(doc) = pending.next() else { break };
            let job = job_of(tenant, &dataset.name, doc);
            let processor = processor.clone();
            let id = doc.id.clone();
            in_flight.spawn(async move { (id, processor.process(job).await) });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (id, result) = joined.context("a document task failed")?;
        match result {
            Ok(Outcome::Indexed(m)) => {
                report.indexed += 1;
                report.chunks += m.chunks;
            }
            Ok(Outcome::Unchanged(m)) => {
                report.unchanged += 1;
                report.chunks += m.chunks;
            }
            Err(e) => {
                report.failed += 1;
                eprintln!("FAILED {}: {}", source_of(&dataset.name, &id), e.report());
            }
        }
        done += 1;
        if progress && (done % PROGRESS_EVERY == 0 || done == total) {
            eprintln!(
                "  {done}/{total} documents ({} indexed, {} unchanged, {} failed) {:.1} s",
                report.indexed,
                report.unchanged,
                report.failed,
                started.elapsed().as_secs_f64()
            );
        }
    }
    report.wall_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every query in one mode, one at a time; the time counts embedding the query and the search.
async fn eval_mode(
    index: &dyn VectorIndex,
    embedder: &dyn Embedder,
    tenant: &str,
    mode: SearchMode,
    queries: &[Query],
    by_doc_id: &HashMap<String, &str>,
) -> Result<ModeReport> {
    let mut scores = Vec::with_capacity(queries.len());
    let mut search_secs = 0.0;
    for query in queries {
        let request = SearchRequest {
            text: query.text.clone(),
            mode,
            filter: Filter::tenant(tenant),
            top_k: TOP_K_CHUNKS,
            fusion: Fusion::default(),
        };
        let embed = |text: &str| -> docfleet_pipeline::Result<Vec<f32>> {
            let vector = embedder.embed(&[text])?.into_iter().next();
            vector.ok_or_else(|| {
                docfleet_pipeline::Error::Io(std::io::Error::other("the model returned no vector"))
            })
        };
        let started = Instant::now();
        let hits = search(index, embed, &request)
            .await
            .with_context(|| format!("{} search for query {}", mode.as_str(), query.id))?;
        search_secs += started.elapsed().as_secs_f64();
        // Documents by their best chunk; another document of the tenant (not in this dataset)
        // keeps its rank and counts as not relevant.
        let ranking: Vec<&str> = collapse(hits.iter().map(|h| h.payload.doc_id.as_str()))
            .into_iter()
            .map(|d| by_doc_id.get(d).copied().unwrap_or(d))
            .collect();
        scores.push(Scores::of(&ranking, &query.relevant));
    }
    Ok(ModeReport {
        mode: mode.as_str(),
        scores: Scores::mean(&scores),
        queries_per_sec: queries.len() as f64 / search_secs.max(1e-9),
        search_secs,
    })
}

fn print_table(report: &EvalReport) {
    let i = &report.indexing;
    println!(
        "{}: {} queries, {} documents ({} indexed, {} unchanged, {} failed; {} chunks)",
        report.dataset,
        report.queries,
        report.documents,
        i.indexed,
        i.unchanged,
        i.failed,
        i.chunks
    );
    println!(
        "{:<8} {:>8} {:>10} {:>11} {:>7} {:>10}",
        "mode", "nDCG@10", "recall@10", "recall@100", "MRR@10", "queries/s"
    );
    for m in &report.modes {
        let s = &m.scores;
        println!(
            "{:<8} {:>8.4} {:>10.4} {:>11.4} {:>7.4} {:>10.1}",
            m.mode, s.ndcg_at_10, s.recall_at_10, s.recall_at_100, s.mrr_at_10, m.queries_per_sec
        );
    }
}
