//! The fleet's models as one worker holds them: each loaded on the first job that needs it
//! (a tenant profile's `model`), with its own embed lane and its own index (namespace), within a
//! memory budget: to make room, the least recently used model that no job is using is unloaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use docfleet_models::{BertEmbedder, Embedder};
use docfleet_pipeline::chunk::{Chunker, ChunkerConfig, TokenChunker};
use docfleet_pipeline::embed_lane::{EmbedCallObserver, EmbedLane};
use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::{Error as PipelineError, Result as PipelineResult, version};
use tokenizers::Tokenizer;

use super::index::{IndexAccess, open_index};
use crate::settings::CommonOpts;

/// Texts merged into one model call from concurrent documents.
const MAX_TEXTS_PER_EMBED_CALL: usize = 512;

/// The embedding model of `common` (`CommonOpts::for_model`), on its device, with forward
/// passes of at most `batch_tokens` tokens.
pub fn load_embedder(common: &CommonOpts, batch_tokens: usize) -> Result<Arc<BertEmbedder>> {
    let dir = common.model_dir();
    let embedder = BertEmbedder::load(&dir, common.embedder_options(batch_tokens)?)
        .with_context(|| format!("loading the embedding model from {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

/// One loaded model: its lane, its index, and what chunking needs. Jobs hold an `Arc` of it while
/// they run, which is how the set knows a model is in use.
pub struct LoadedModel {
    pub name: String,
    pub model_id: String,
    pub dims: usize,
    pub embed: EmbedLane,
    pub index: Arc<dyn VectorIndex>,
    /// Size of the weights file: what the model is charged against the budget.
    pub weight_bytes: u64,
    fingerprint: String,
    max_tokens: usize,
    tokenizer: Tokenizer,
    /// By (max, overlap): the chunker and its settings' fingerprint.
    chunkers: Mutex<HashMap<(usize, usize), MadeChunker>>,
}

impl LoadedModel {
    /// A chunker for `config` with this model's tokenizer (made once per setting), and the
    /// version tag of the model and chunking.
    pub fn chunker(&self, config: ChunkerConfig) -> PipelineResult<(Arc<dyn Chunker>, String)> {
        if config.max_tokens > self.max_tokens {
            return Err(PipelineError::Chunking(format!(
                "chunk_max_tokens {} is over the model's limit of {} tokens",
                config.max_tokens, self.max_tokens
            )));
        }
        let key = (config.max_tokens, config.overlap_tokens);
        let mut cache = self
            .chunkers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (chunker, settings) = match cache.get(&key) {
            Some(c) => c.clone(),
            None => {
                let c = TokenChunker::new(self.tokenizer.clone(), config)?;
                let settings = c.settings_fingerprint();
                let made: MadeChunker = (Arc::new(c), settings);
                cache.insert(key, made.clone());
                made
            }
        };
        let tag = version::pipeline_version(&self.model_id, &self.fingerprint, &settings);
        Ok((chunker, tag))
    }
}

/// A chunker and its settings' fingerprint.
type MadeChunker = (Arc<dyn Chunker>, String);

struct Slot {
    model: Arc<LoadedModel>,
    last_used: Instant,
}

pub struct ModelSet {
    common: CommonOpts,
    batch_tokens: usize,
    budget_bytes: u64,
    observer: Option<Arc<dyn EmbedCallObserver>>,
    /// Loading happens under this lock: one model loads at a time, and never twice.
    loaded: tokio::sync::Mutex<Vec<Slot>>,
}

impl ModelSet {
    pub fn new(
        common: &CommonOpts,
        batch_tokens: usize,
        observer: Option<Arc<dyn EmbedCallObserver>>,
    ) -> Self {
        Self {
            common: common.clone(),
            batch_tokens,
            budget_bytes: common.model_memory_budget_bytes,
            observer,
            loaded: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    /// The model `name`, loaded (and its index opened) if it is not yet.
    pub async fn get(&self, name: &str) -> PipelineResult<Arc<LoadedModel>> {
        let mut loaded = self.loaded.lock().await;
        if let Some(slot) = loaded.iter_mut().find(|s| s.model.name == name) {
            slot.last_used = Instant::now();
            return Ok(slot.model.clone());
        }
        let common = self
            .common
            .for_model(name)
            .map_err(|e| PipelineError::profile(e.to_string(), false))?;
        let weights = common.model_dir().join("model.safetensors");
        let weight_bytes = std::fs::metadata(&weights).map(|m| m.len()).map_err(|e| {
            PipelineError::profile(
                format!("model {name:?}: reading {}: {e}", weights.display()),
                false,
            )
        })?;
        self.make_room(&mut loaded, name, weight_bytes)?;
        let model = Arc::new(self.load(&common, name, weight_bytes).await?);
        tracing::info!(model = name, model_id = %model.model_id, weight_bytes, "model loaded");
        loaded.push(Slot {
            model: model.clone(),
            last_used: Instant::now(),
        });
        Ok(model)
    }

    /// Unloads idle models, least recently used first, until `need` more bytes fit.
    fn make_room(&self, loaded: &mut Vec<Slot>, name: &str, need: u64) -> PipelineResult<()> {
        if self.budget_bytes == 0 {
            return Ok(());
        }
        if need > self.budget_bytes {
            return Err(PipelineError::profile(
                format!(
                    "model {name:?} ({need} bytes) is larger than the model memory budget \
                     ({} bytes, DOCFLEET_MODEL_MEMORY_BUDGET_BYTES)",
                    self.budget_bytes
                ),
                false,
            ));
        }
        loop {
            let used: u64 = loaded.iter().map(|s| s.model.weight_bytes).sum();
            if used + need <= self.budget_bytes {
                return Ok(());
            }
            // Only the set holds an idle model: no job runs with it.
            let idle = loaded
                .iter()
                .enumerate()
                .filter(|(_, s)| Arc::strong_count(&s.model) == 1)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i);
            let Some(i) = idle else {
                return Err(PipelineError::profile(
                    format!(
                        "model {name:?} does not fit the model memory budget while the loaded \
                         models are in use; retrying later"
                    ),
                    true,
                ));
            };
            let gone = loaded.remove(i);
            tracing::info!(model = %gone.model.name, "model unloaded to make room");
        }
    }

    async fn load(
        &self,
        common: &CommonOpts,
        name: &str,
        weight_bytes: u64,
    ) -> PipelineResult<LoadedModel> {
        let failed =
            |e: anyhow::Error| PipelineError::profile(format!("model {name:?}: {e:#}"), true);
        let (c, batch_tokens) = (common.clone(), self.batch_tokens);
        let embedder = tokio::task::spawn_blocking(move || load_embedder(&c, batch_tokens))
            .await
            .map_err(|e| failed(e.into()))?
            .map_err(failed)?;
        let dir = common.model_dir();
        let fingerprint = version::model_fingerprint(&dir)
            .with_context(|| format!("reading the model folder {}", dir.display()))
            .map_err(failed)?;
        let fingerprint = version::with_precision(&fingerprint, embedder.precision().name());
        let index = open_index(common, IndexAccess::Write).map_err(failed)?;
        index.ensure_collection(embedder.dims()).await?;
        Ok(LoadedModel {
            name: name.to_owned(),
            model_id: embedder.model_id().to_owned(),
            dims: embedder.dims(),
            max_tokens: embedder.max_tokens(),
            tokenizer: embedder.tokenizer().clone(),
            embed: EmbedLane::start_observed(
                embedder,
                MAX_TEXTS_PER_EMBED_CALL,
                self.observer.clone(),
            ),
            index,
            weight_bytes,
            fingerprint,
            chunkers: Mutex::new(HashMap::new()),
        })
    }
}
