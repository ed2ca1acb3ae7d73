//! Builds the pipeline from the options: model, PDFium, chunker, index and object store; and
//! serves `docfleet extract-worker`, the extractor child process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_models::{BertEmbedder, Embedder};
use docfleet_pipeline::chunk::{Chunker, ChunkerConfig, TokenChunker};
use docfleet_pipeline::embed_lane::{EmbedCallObserver, EmbedLane};
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
use docfleet_pipeline::version;
use docfleet_pipeline::{Error as PipelineError, Result as PipelineResult};
use tokenizers::Tokenizer;

use crate::settings::{CommonOpts, PipelineOpts, QdrantTenancy};

/// Texts merged into one model call from concurrent documents.
const MAX_TEXTS_PER_EMBED_CALL: usize = 512;

pub fn load_embedder(common: &CommonOpts, batch_tokens: usize) -> Result<Arc<BertEmbedder>> {
    let dir = common.model_dir();
    let embedder = BertEmbedder::load(&dir, common.embedder_options(batch_tokens)?)
        .with_context(|| format!("loading the embedding model from {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

pub async fn build_processor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Processor> {
    Ok(build_pipelines(common, opts, None).await?.default)
}

/// The processor for the worker's settings, and those for jobs that ask for other chunk
/// settings: they share everything (extractors, embed lane, index, store) but the chunker, and
/// their pipeline version differs, so a document chunked differently is a new version.
pub struct Pipelines {
    pub default: Processor,
    /// Reads job sources (file://, s3://).
    pub sources: SourceReader,
    default_chunking: ChunkerConfig,
    chunking: Chunking,
    by_chunking: Mutex<HashMap<(usize, usize), Processor>>,
}

/// What it takes to make a chunker and name its pipeline version.
struct Chunking {
    /// What else changes the extracted text: the OCR settings' [`version_tag`].
    ///
    /// [`version_tag`]: docfleet_pipeline::extract::OcrSettings::version_tag
    extract_tag: String,
    /// The embedder's own tokenizer: chunks count exactly the model's tokens.
    tokenizer: Tokenizer,
    model_id: String,
    model_fingerprint: String,
    model_max_tokens: usize,
}

impl Chunking {
    /// A chunker for `config` and the pipeline version that goes with it.
    fn make(&self, config: ChunkerConfig) -> PipelineResult<(Arc<dyn Chunker>, String)> {
        if config.max_tokens > self.model_max_tokens {
            return Err(PipelineError::Chunking(format!(
                "chunk_max_tokens {} is over the model's limit of {} tokens",
                config.max_tokens, self.model_max_tokens
            )));
        }
        let chunker = TokenChunker::new(self.tokenizer.clone(), config)?;
        let version = version::pipeline_version(
            &self.model_id,
            &self.model_fingerprint,
            &format!("{}-{}", chunker.settings_fingerprint(), self.extract_tag),
        );
        Ok((Arc::new(chunker), version))
    }
}

impl Pipelines {
    /// The processor for a job's options; an impossible chunk setting is the job's (permanent)
    /// error.
    pub fn for_options(&self, options: &JobOptions) -> PipelineResult<Processor> {
        let config = ChunkerConfig {
            max_tokens: options
                .chunk_max_tokens
                .unwrap_or(self.default_chunking.max_tokens),
            overlap_tokens: options
                .chunk_overlap_tokens
                .unwrap_or(self.default_chunking.overlap_tokens),
        };
        if config == self.default_chunking {
            return Ok(self.default.clone());
        }
        let key = (config.max_tokens, config.overlap_tokens);
        let mut cache = self
            .by_chunking
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let (chunker, pipeline_version) = self.chunking.make(config)?;
        let p = Processor {
            chunker,
            pipeline_version,
            ..self.default.clone()
        };
        cache.insert(key, p.clone());
        Ok(p)
    }
}

/// Everything the pipeline needs, with the embed lane reporting its calls to `observer`.
pub async fn build_pipelines(
    common: &CommonOpts,
    opts: &PipelineOpts,
    observer: Option<Arc<dyn EmbedCallObserver>>,
) -> Result<Pipelines> {
    let model_dir = common.model_dir();
    let embedder = load_embedder(common, opts.embed_batch_tokens)?;
    let chunking = Chunking {
        extract_tag: opts.ocr.settings().version_tag(),
        tokenizer: embedder.tokenizer().clone(),
        model_id: embedder.model_id().to_owned(),
        model_fingerprint: version::model_fingerprint(&model_dir)
            .with_context(|| format!("reading the model folder {}", model_dir.display()))?,
        model_max_tokens: embedder.max_tokens(),
    };
    let default_chunking = ChunkerConfig {
        max_tokens: opts.chunk_max_tokens,
        overlap_tokens: opts.chunk_overlap_tokens,
    };
    let (chunker, pipeline_version) = chunking.make(default_chunking.clone())?;

    let extractor = build_extractor(common, opts)?;
    let index = open_index(common, IndexAccess::Write)?;
    index.ensure_collection(embedder.dims()).await?;

    let default = Processor {
        extractor,
        chunker,
        model_id: embedder.model_id().to_owned(),
        dims: embedder.dims(),
        embed: EmbedLane::start_observed(embedder, MAX_TEXTS_PER_EMBED_CALL, observer),
        index,
        store: build_object_store(common).await?,
        pipeline_version,
        max_file_bytes: opts.max_file_bytes,
    };
    Ok(Pipelines {
        default,
        sources: SourceReader::new(common.storage.s3_config()),
        default_chunking,
        chunking,
        by_chunking: Mutex::new(HashMap::new()),
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
            collection: opts.qdrant_collection.clone(),
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
    let options = ExtractOptions {
        max_pages: opts.max_pages,
        ocr: opts.ocr.settings(),
    };
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
