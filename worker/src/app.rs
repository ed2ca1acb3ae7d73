//! Builds the pipeline from the options: model, PDFium, chunker, index and object store.

use std::sync::Arc;

use anyhow::{Context, Result};
use docfleet_models::{BertEmbedder, Embedder, EmbedderOptions};
use docfleet_pipeline::chunk::{ChunkerConfig, TokenChunker};
use docfleet_pipeline::embed_lane::EmbedLane;
use docfleet_pipeline::extract::{DocumentExtractor, ExtractLimits};
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
    let tokenizer = docfleet_models::load_tokenizer(&model_dir)?;
    let chunker = TokenChunker::new(
        tokenizer,
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

    let extractor = DocumentExtractor::new(
        Some(&common.pdfium_lib()),
        ExtractLimits {
            max_pages: opts.max_pages,
        },
    )?;
    let index = EmbeddedIndex::open(&common.index_dir())?;
    index.ensure_collection(embedder.dims()).await?;

    Ok(Processor {
        extractor: Arc::new(extractor),
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
