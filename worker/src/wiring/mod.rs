//! Builds the pipeline from the options: model, PDFium, chunker, index and object store; and
//! serves `docfleet extract-worker`, the extractor child process.

mod models;
mod pipelines;
pub mod queue;

pub use models::ModelSet;
pub use pipelines::{JobPipeline, Pipelines};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_models::BertEmbedder;
use docfleet_pipeline::embed_lane::EmbedCallObserver;
use docfleet_pipeline::extract::{
    DocumentExtractor, ExtractOptions, Extractor, ExtractorCommand, OCR_CHILD_ENV, PdfExtractor,
    ProcessPoolExtractor, serve_extraction,
};
use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::qdrant::{QdrantConfig, QdrantIndex, Tenancy};
use docfleet_pipeline::job::JobOptions;
use docfleet_pipeline::process::Processor;
use docfleet_pipeline::source::SourceReader;
use docfleet_pipeline::store::ObjectStore;
use docfleet_pipeline::store::local::LocalStore;
use docfleet_pipeline::store::s3::config::parse_store_url;
use docfleet_pipeline::store::s3::{S3Client, S3Store};

use crate::settings::{CommonOpts, DEFAULT_MODEL, PipelineOpts, QdrantTenancy};

/// Texts merged into one model call from concurrent documents.
const MAX_TEXTS_PER_EMBED_CALL: usize = 512;

pub fn load_embedder(common: &CommonOpts, batch_tokens: usize) -> Result<Arc<BertEmbedder>> {
    let dir = common.model_dir();
    let embedder = BertEmbedder::load(&dir, common.embedder_options(batch_tokens)?)
        .with_context(|| format!("loading the embedding model from {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

/// The processor of the default model and the fleet's settings (`docfleet run`, `eval`).
pub async fn build_processor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Processor> {
    let pipelines = build_pipelines(common, opts, None).await?;
    Ok(pipelines
        .for_job(&JobOptions::default(), None)
        .await?
        .processor)
}

/// Everything the pipeline needs, with the embed lanes reporting their calls to `observer`.
/// The default model is loaded now (so a missing model is a start-up error); others on first use.
pub async fn build_pipelines(
    common: &CommonOpts,
    opts: &PipelineOpts,
    observer: Option<Arc<dyn EmbedCallObserver>>,
) -> Result<Pipelines> {
    // A malformed DOCFLEET_MODELS is a start-up error, not the first job's.
    common.model_names()?;
    let models = ModelSet::new(common, opts.embed_batch_tokens, observer);
    models
        .get(DEFAULT_MODEL)
        .await
        .with_context(|| format!("loading the model from {}", common.model_dir().display()))?;
    Ok(Pipelines {
        sources: SourceReader::new(common.storage.s3_config()),
        extractor: build_extractor(common, opts)?,
        store: build_object_store(common).await?,
        opts: opts.clone(),
        models,
        pii_scanners: std::sync::Mutex::new(HashMap::new()),
    })
}

/// Whether the embedded index is opened as its one writer or as a reader (a Qdrant server takes
/// both from anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAccess {
    Write,
    Read,
}

/// The vector index: the Qdrant server at `qdrant_url`, else the embedded index in
/// `<data_dir>/index`.
pub fn open_index(common: &CommonOpts, access: IndexAccess) -> Result<Arc<dyn VectorIndex>> {
    let opts = &common.index;
    if let Some(url) = &opts.qdrant_url {
        let cfg = QdrantConfig {
            url: url.clone(),
            api_key: opts.qdrant_api_key.clone(),
            collection: common.qdrant_collection(),
            tenancy: match opts.qdrant_tenancy {
                QdrantTenancy::Shared => Tenancy::Shared,
                QdrantTenancy::PerTenant => Tenancy::PerTenant,
            },
            upsert_batch_points: usize::try_from(opts.qdrant_upsert_batch_points)?,
            upsert_parallelism: usize::try_from(opts.qdrant_upsert_parallelism)?,
            timeout_secs: opts.qdrant_timeout_secs,
            max_attempts: opts.qdrant_max_attempts,
        };
        return Ok(Arc::new(QdrantIndex::connect(cfg)?));
    }
    let dir = common.index_dir();
    Ok(match access {
        IndexAccess::Write => Arc::new(EmbeddedIndex::open(&dir)?),
        IndexAccess::Read => Arc::new(EmbeddedIndex::open_read_only(&dir)?),
    })
}

/// Where the vectors are, for messages.
pub fn index_location(common: &CommonOpts) -> String {
    match &common.index.qdrant_url {
        Some(url) => format!("Qdrant at {url}"),
        None => common.index_dir().display().to_string(),
    }
}

/// The artifact store: a bucket for `s3://bucket/prefix`, else a folder (default
/// `<data_dir>/objects`).
pub async fn build_object_store(common: &CommonOpts) -> Result<Arc<dyn ObjectStore>> {
    let url = common.storage.object_store_url.as_deref();
    if let Some(url) = url.filter(|u| u.starts_with("s3://")) {
        let (bucket, prefix) = parse_store_url(url).with_context(|| {
            format!("invalid object store URL {url:?}: expected s3://bucket[/prefix]")
        })?;
        let cfg = common.storage.s3_config();
        cfg.validate()?;
        return Ok(Arc::new(S3Store::new(
            S3Client::new(&cfg).await,
            bucket,
            prefix,
        )));
    }
    if let Some(url) = url.filter(|u| u.contains("://") && !u.starts_with("file://")) {
        anyhow::bail!("unsupported object store URL {url:?}: use s3://bucket[/prefix] or a folder");
    }
    let dir = url.map_or_else(
        || common.objects_dir(),
        |u| u.strip_prefix("file://").unwrap_or(u).into(),
    );
    Ok(Arc::new(LocalStore::new(dir)))
}

/// Extraction in `extract_processes` child processes (`docfleet extract-worker`), or in this
/// process when it is 0.
fn build_extractor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Arc<dyn Extractor>> {
    let lib = common.pdfium_lib();
    let options = opts.extract_options();
    // Binding here too makes a missing or wrong libpdfium a startup error (exit 2) rather than
    // every PDF failing with the children's crash reports; it costs one bind (~tens of ms).
    let pdf = PdfExtractor::new(&lib)?;
    // The same for Tesseract and each language's traineddata (unless OCR is off).
    let install = common.ocr_install();
    if let Some(info) = install.check(&options.ocr)? {
        tracing::debug!(version = %info.version, tessdata = %info.tessdata_dir.display(), "OCR ready");
    }
    if opts.extract_processes == 0 {
        let extractor = DocumentExtractor::with_pdf(pdf, options).with_ocr_install(install);
        return Ok(Arc::new(extractor));
    }
    let exe = std::env::current_exe().context("locating the docfleet binary to run extractors")?;
    let utf8 = |path: &std::path::Path, what: &str| {
        path.to_str()
            .map(str::to_owned)
            .with_context(|| format!("the {what} path {} is not UTF-8", path.display()))
    };
    let mut args = vec![
        "extract-worker".to_owned(),
        "--pdfium-lib".to_owned(),
        utf8(&lib, "libpdfium")?,
        "--max-file-bytes".to_owned(),
        opts.max_file_bytes.to_string(),
    ];
    if let Some(path) = &install.lib_path {
        args.extend(["--ocr-lib".to_owned(), utf8(path, "libtesseract")?]);
    }
    if let Some(path) = &install.tessdata_dir {
        args.extend(["--ocr-tessdata-dir".to_owned(), utf8(path, "tessdata")?]);
    }
    let mut command = ExtractorCommand::new(exe, args);
    // Tesseract's OpenMP threads would fight the other children and the encoder for the cores
    // (pages 2-13x slower measured): one thread per child, parallelism comes from the children.
    let ocr_env = OCR_CHILD_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    command.env.extend(ocr_env);
    let pool = ProcessPoolExtractor::new(
        command,
        opts.extract_processes,
        Duration::from_secs(opts.extract_timeout_secs),
    )
    .with_options(options, opts.max_file_bytes);
    Ok(Arc::new(pool))
}

/// TEST ONLY: when this variable is set (non-empty), an extractor child aborts (SIGABRT) on any
/// document whose bytes contain its value. It lets the end-to-end tests crash a real child the
/// way a hostile PDF crashes PDFium; unset, as in production, it does nothing.
const TEST_CRASH_MARKER_VAR: &str = "DOCFLEET_TEST_CRASH_MARKER";

/// `docfleet extract-worker`: serves the parent's extraction requests on stdin/stdout until
/// stdin closes. stdout carries the protocol, so logs go to stderr only.
pub fn serve_extract_worker(common: &CommonOpts, max_file_bytes: u64) -> Result<()> {
    let extractor = DocumentExtractor::new(Some(&common.pdfium_lib()), ExtractOptions::default())?
        .with_ocr_install(common.ocr_install());
    let crash_marker = std::env::var(TEST_CRASH_MARKER_VAR)
        .ok()
        .filter(|m| !m.is_empty());
    let extract =
        |bytes: &[u8], media_type, options: &ExtractOptions, on_page: &mut dyn FnMut()| {
            if let Some(marker) = &crash_marker
                && bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
            {
                std::process::abort();
            }
            extractor.extract_with(bytes, media_type, options, on_page)
        };
    serve_extraction(
        &extract,
        max_file_bytes,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )
    .context("extractor protocol")
}
