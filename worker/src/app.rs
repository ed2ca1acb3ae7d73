//! Builds the pipeline from the options: model, PDFium, chunker, index and object store; and
//! serves `docfleet extract-worker`, the extractor child process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_models::{BertEmbedder, Embedder, EmbedderOptions};
use docfleet_pipeline::chunk::{ChunkerConfig, TokenChunker};
use docfleet_pipeline::embed_lane::EmbedLane;
use docfleet_pipeline::extract::{
    DocumentExtractor, ExtractLimits, Extractor, ExtractorCommand, PdfExtractor,
    ProcessPoolExtractor, serve_extraction,
};
use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::process::Processor;
use docfleet_pipeline::store::local::LocalStore;
use docfleet_pipeline::version;

use crate::settings::{CommonOpts, PipelineOpts};

/// Texts merged into one model call from concurrent documents.
const MAX_TEXTS_PER_EMBED_CALL: usize = 512;

pub fn load_embedder(common: &CommonOpts, batch_tokens: usize) -> Result<Arc<BertEmbedder>> {
    let dir = common.model_dir();
    let options = EmbedderOptions {
        max_batch_tokens: batch_tokens,
        device: common.device()?,
    };
    let embedder = BertEmbedder::load(&dir, options)
        .with_context(|| format!("loading the embedding model from {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

pub async fn build_processor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Processor> {
    let model_dir = common.model_dir();
    let embedder = load_embedder(common, opts.embed_batch_tokens)?;
    // The embedder's own tokenizer (no truncation, no padding): chunks count exactly its tokens.
    let chunker = TokenChunker::new(
        embedder.tokenizer().clone(),
        ChunkerConfig {
            max_tokens: opts.chunk_max_tokens,
            overlap_tokens: opts.chunk_overlap_tokens,
        },
    )?;
    let fingerprint = version::model_fingerprint(&model_dir)
        .with_context(|| format!("reading the model folder {}", model_dir.display()))?;
    let pipeline_version = version::pipeline_version(
        embedder.model_id(),
        &fingerprint,
        &chunker.settings_fingerprint(),
    );

    let extractor = build_extractor(common, opts)?;
    let index = EmbeddedIndex::open(&common.index_dir())?;
    index.ensure_collection(embedder.dims()).await?;

    Ok(Processor {
        extractor,
        chunker: Arc::new(chunker),
        model_id: embedder.model_id().to_owned(),
        dims: embedder.dims(),
        embed: EmbedLane::start(embedder, MAX_TEXTS_PER_EMBED_CALL),
        index: Arc::new(index),
        store: Arc::new(LocalStore::new(common.objects_dir())),
        pipeline_version,
        max_file_bytes: opts.max_file_bytes,
    })
}

/// Extraction in `extract_processes` child processes (`docfleet extract-worker`), or in this
/// process when it is 0.
fn build_extractor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Arc<dyn Extractor>> {
    let lib = common.pdfium_lib();
    let limits = ExtractLimits {
        max_pages: opts.max_pages,
    };
    // Binding here too makes a missing or wrong libpdfium a startup error (exit 2) rather than
    // every PDF failing with the children's crash reports; it costs one bind (~tens of ms).
    let pdf = PdfExtractor::new(&lib)?;
    if opts.extract_processes == 0 {
        return Ok(Arc::new(DocumentExtractor::with_pdf(pdf, limits)));
    }
    let exe = std::env::current_exe().context("locating the docfleet binary to run extractors")?;
    let lib = lib
        .to_str()
        .with_context(|| format!("the libpdfium path {} is not UTF-8", lib.display()))?;
    let command = ExtractorCommand::new(
        exe,
        [
            "extract-worker",
            "--pdfium-lib",
            lib,
            "--max-file-bytes",
            &opts.max_file_bytes.to_string(),
        ],
    );
    let pool = ProcessPoolExtractor::new(
        command,
        opts.extract_processes,
        Duration::from_secs(opts.extract_timeout_secs),
    )
    .with_limits(limits, opts.max_file_bytes);
    Ok(Arc::new(pool))
}

/// TEST ONLY: when this variable is set (non-empty), an extractor child aborts (SIGABRT) on any
/// document whose bytes contain its value. It lets the end-to-end tests crash a real child the
/// way a hostile PDF crashes PDFium; unset, as in production, it does nothing.
const TEST_CRASH_MARKER_VAR: &str = "DOCFLEET_TEST_CRASH_MARKER";

/// `docfleet extract-worker`: serves the parent's extraction requests on stdin/stdout until
/// stdin closes. stdout carries the protocol, so logs go to stderr only.
pub fn serve_extract_worker(common: &CommonOpts, max_file_bytes: u64) -> Result<()> {
    let extractor = DocumentExtractor::new(Some(&common.pdfium_lib()), ExtractLimits::default())?;
    let crash_marker = std::env::var(TEST_CRASH_MARKER_VAR)
        .ok()
        .filter(|m| !m.is_empty());
    let extract = |bytes: &[u8], media_type, limits| {
        if let Some(marker) = &crash_marker
            && bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
        {
            std::process::abort();
        }
        extractor.extract_with_limits(bytes, media_type, limits)
    };
    serve_extraction(
        &extract,
        max_file_bytes,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )
    .context("extractor protocol")
}
