//! One processor per job: the fleet's settings, overridden by the tenant's profile, overridden
//! by the job's own options. Extractors, the object store and the loaded models are shared; what
//! changes per job is cheap (a cached chunker, a cached PII scanner, the options).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use docfleet_core::job::JobOptions;
use docfleet_pipeline::chunk::ChunkerConfig;
use docfleet_pipeline::embed_lane::EmbedCallObserver;
use docfleet_pipeline::extract::{ExtractOptions, Extractor};
use docfleet_pipeline::pii::{PiiMode, PiiScanner};
use docfleet_pipeline::process::{PiiStage, Processor};
use docfleet_pipeline::source::SourceReader;
use docfleet_pipeline::store::ObjectStore;
use docfleet_pipeline::{Error as PipelineError, Result as PipelineResult};

use super::extractor::build_extractor;
use super::models::{LoadedModel, ModelSet};
use super::object_store::{open_object_store, source_reader};
use crate::profile::ActiveProfile;
use crate::settings::{CommonOpts, DEFAULT_MODEL, PipelineOpts};

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
        sources: source_reader(common),
        extractor: build_extractor(common, opts)?,
        store: open_object_store(common).await?,
        opts: opts.clone(),
        models,
        pii_scanners: Mutex::new(HashMap::new()),
    })
}

pub struct Pipelines {
    /// Reads job sources (file://, s3://).
    pub sources: SourceReader,
    extractor: Arc<dyn Extractor>,
    store: Arc<dyn ObjectStore>,
    opts: PipelineOpts,
    models: ModelSet,
    /// Compiled scanners by their custom patterns (as JSON).
    pii_scanners: Mutex<HashMap<String, Arc<PiiScanner>>>,
}

/// A job's processor, and its model: holding it marks the model in use (not unloaded).
pub struct JobPipeline {
    pub processor: Processor,
    pub model: Arc<LoadedModel>,
}

impl Pipelines {
    /// Whether `source` is a document the API stored for `tenant` (an upload): the tenant's
    /// own, whatever its profile's source prefixes say.
    pub fn is_upload_of(&self, tenant: &str, source: &str) -> bool {
        self.store
            .key_of_source(source)
            .is_some_and(|k| k.as_str().starts_with(&format!("{tenant}/_uploads/")))
    }

    /// The processor for a job of a tenant with `profile`. An impossible setting (an unknown
    /// model, chunks over the model's limit) is the job's permanent error.
    pub async fn for_job(
        &self,
        options: &JobOptions,
        profile: Option<&ActiveProfile>,
    ) -> PipelineResult<JobPipeline> {
        let p = profile.map(|a| &a.profile);
        let name = p.and_then(|p| p.model.as_deref()).unwrap_or(DEFAULT_MODEL);
        let model = self.models.get(name).await?;
        let chunk = p.map(|p| &p.chunk);
        let config = ChunkerConfig {
            max_tokens: options
                .chunk_max_tokens
                .or(chunk.and_then(|c| c.max_tokens))
                .unwrap_or(self.opts.chunk_max_tokens),
            overlap_tokens: options
                .chunk_overlap_tokens
                .or(chunk.and_then(|c| c.overlap_tokens))
                .unwrap_or(self.opts.chunk_overlap_tokens),
        };
        let (chunker, model_tag) = model.chunker(config)?;
        let extract_options = self.extract_options(profile);
        let pii = match profile {
            Some(a) if a.profile.pii.mode != PiiMode::Off => Some(PiiStage {
                mode: a.profile.pii.mode,
                scanner: self.pii_scanner(a)?,
            }),
            _ => None,
        };
        let mut pipeline_version = format!("{model_tag}-{}", extract_options.ocr.version_tag());
        if let Some(stage) = &pii {
            // New detector code (BUILTIN_VERSION) re-processes too, not only a new profile.
            pipeline_version.push_str(&format!("-pii{}", stage.scanner.fingerprint()));
        }
        if let Some(a) = profile {
            // Any profile change re-processes the tenant's documents on their next run.
            pipeline_version.push_str(&format!("-prof{}", a.version));
        }
        let limit = p.and_then(|p| p.limits.max_file_bytes);
        let processor = Processor {
            extractor: self.extractor.clone(),
            chunker,
            embed: model.embed.clone(),
            index: model.index.clone(),
            store: self.store.clone(),
            model_id: model.model_id.clone(),
            dims: model.dims,
            pipeline_version,
            // A profile can lower the fleet's limits, never raise them.
            max_file_bytes: limit.map_or(self.opts.max_file_bytes, |l| {
                l.min(self.opts.max_file_bytes)
            }),
            extract_options,
            pii,
            profile_version: profile.map(|a| a.version),
        };
        Ok(JobPipeline { processor, model })
    }

    /// The fleet's extraction options with the profile's OCR settings and page cap.
    fn extract_options(&self, profile: Option<&ActiveProfile>) -> ExtractOptions {
        let mut options = self.opts.extract_options();
        if let Some(p) = profile.map(|a| &a.profile) {
            if let Some(mode) = p.ocr.mode {
                options.ocr.mode = mode.into();
            }
            if let Some(languages) = &p.ocr.languages {
                options.ocr.languages.clone_from(languages);
            }
            if let Some(pages) = p.limits.max_pages {
                options.max_pages = options.max_pages.min(pages);
            }
        }
        options
    }

    /// The scanner for the profile's patterns, compiled once per distinct set of patterns.
    fn pii_scanner(&self, active: &ActiveProfile) -> PipelineResult<Arc<PiiScanner>> {
        let custom = &active.profile.pii.custom;
        let key = serde_json::to_string(custom).unwrap_or_default();
        let mut cache = self
            .pii_scanners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = cache.get(&key) {
            return Ok(s.clone());
        }
        let scanner = Arc::new(
            PiiScanner::new(custom).map_err(|e| PipelineError::profile(e.to_string(), false))?,
        );
        cache.insert(key, scanner.clone());
        Ok(scanner)
    }
}
