//! [`BertEmbedder`]: tokenise, batch by a padded-token budget, encode, pool.

use std::path::Path;

use candle_core::Device;
use tokenizers::Tokenizer;

use crate::Embedder;
use crate::candle_encoder::CandleBert;
use crate::config::ModelConfig;
use crate::cpu::{CpuBert, EmbedPrecision, Precision};
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::pooling::pool;
use crate::tokenize::{load_tokenizer, require_file, truncating};

/// Which implementation of the encoder runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// docfleet's CPU encoder (`cpu/`) on the CPU, candle's tensors on a GPU.
    #[default]
    Auto,
    /// candle's tensor operations on every device: the portable path (and the one the GPU
    /// takes), slower on the CPU; for comparisons.
    Candle,
}

/// How a [`BertEmbedder`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Most tokens in one forward pass: real tokens on the CPU encoder (it does not pad),
    /// padded tokens (texts × longest text) on candle's. A text longer than this still runs,
    /// alone. Default 4096: larger batches are no faster, and it bounds the scratch memory.
    pub max_batch_tokens: usize,
    pub device: DeviceChoice,
    pub backend: Backend,
    /// Threads of the CPU encoder, each running one batch at a time; 0: one per core this
    /// process may use.
    pub threads: usize,
    /// The arithmetic of the CPU encoder's linear layers. candle's encoder (the GPU's) runs f32
    /// only: a low precision asked of it is an error.
    pub precision: EmbedPrecision,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            max_batch_tokens: 4096,
            device: DeviceChoice::Auto,
            backend: Backend::Auto,
            threads: 0,
            precision: EmbedPrecision::Auto,
        }
    }
}

/// The encoder a [`BertEmbedder`] runs.
enum Encoder {
    Cpu(CpuBert),
    Candle(CandleBert),
}

/// A BERT-family sentence-transformers model (e.g. all-MiniLM-L6-v2): docfleet's CPU encoder
/// on the CPU, candle's tensors on a GPU (or on request, [`Backend::Candle`]).
pub struct BertEmbedder {
    model: Encoder,
    device: Device,
    config: ModelConfig,
    /// No truncation, no padding: exact token counts.
    tokenizer: Tokenizer,
    /// Truncates to `config.max_tokens`; what the model sees.
    model_tokenizer: Tokenizer,
    model_id: String,
    max_batch_tokens: usize,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("model_id", &self.model_id)
            .field("config", &self.config)
            .field("device", &self.device)
            .field("encoder", &self.encoder())
            .field("max_batch_tokens", &self.max_batch_tokens)
            .finish_non_exhaustive()
    }
}

impl BertEmbedder {
    /// Loads the model in `model_dir` (`config.json`, `tokenizer.json`, `model.safetensors`,
    /// optionally `1_Pooling/config.json` and `sentence_bert_config.json`).
    pub fn load(model_dir: &Path, options: EmbedderOptions) -> Result<Self> {
        let config = ModelConfig::load(model_dir)?;
        let tokenizer = load_tokenizer(model_dir)?;
        let weights = require_file(model_dir, "model.safetensors")?;
        let model_tokenizer = truncating(&tokenizer, config.max_tokens)?;
        let device = options.device.device()?;
        let model = if device.is_cpu() && options.backend == Backend::Auto {
            let threads = match options.threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            };
            Encoder::Cpu(CpuBert::load(
                &weights,
                &config,
                threads,
                options.precision,
            )?)
        } else {
            if matches!(
                options.precision,
                EmbedPrecision::Bf16 | EmbedPrecision::Int8
            ) {
                return Err(Error::Device(format!(
                    "embed precision {:?} runs on docfleet's CPU encoder only, not on candle's \
                     (the GPU's, or --embed-backend candle); use auto or f32",
                    options.precision
                )));
            }
            Encoder::Candle(CandleBert::load(&weights, &config, &device)?)
        };
        let model_id = model_dir
            .canonicalize()
            .unwrap_or_else(|_| model_dir.to_path_buf())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model_dir.display().to_string());
        let embedder = Self {
            model,
            device,
            config,
            tokenizer,
            model_tokenizer,
            model_id,
            max_batch_tokens: options.max_batch_tokens.max(1),
        };
        tracing::info!(
            model = %embedder.model_id,
            device = ?embedder.device,
            precision = embedder.precision().name(),
            max_tokens = embedder.config.max_tokens,
            "loaded embedding model"
        );
        Ok(embedder)
    }

    /// The tokenizer without truncation or padding (for counting tokens when chunking).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokens in `text`, special tokens included, without truncation.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self
            .tokenizer
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .len())
    }

    /// The token ids the model sees for `text`: special tokens included, truncated to
    /// [`Embedder::max_tokens`].
    pub fn input_ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .model_tokenizer
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Which encoder runs the model, and on how many threads.
    pub fn encoder(&self) -> String {
        match &self.model {
            Encoder::Cpu(cpu) => format!(
                "docfleet CPU encoder, {} threads, {}",
                cpu.threads(),
                cpu.precision().name()
            ),
            Encoder::Candle(_) => format!("candle tensors on {:?}", self.device),
        }
    }

    /// The arithmetic of the model's linear layers.
    pub fn precision(&self) -> Precision {
        match &self.model {
            Encoder::Cpu(cpu) => cpu.precision(),
            Encoder::Candle(_) => Precision::F32,
        }
    }

    /// Threads the model runs on.
    pub fn threads(&self) -> usize {
        match &self.model {
            Encoder::Cpu(cpu) => cpu.threads(),
            Encoder::Candle(_) => candle_core::utils::get_num_threads(),
        }
    }

    /// Embeds texts already tokenised, in order.
    fn embed_ids(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        match &self.model {
            Encoder::Cpu(cpu) => self.embed_ids_cpu(cpu, ids),
            Encoder::Candle(bert) => self.embed_ids_candle(bert, ids),
        }
    }

    /// Batches of real tokens, as many as the threads (or a multiple), of equal size.
    fn embed_ids_cpu(&self, cpu: &CpuBert, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let plan = balanced_batches(ids, cpu.threads(), self.max_batch_tokens);
        let batches: Vec<Vec<&[u32]>> = plan
            .iter()
            .map(|b| b.iter().map(|&i| ids[i]).collect())
            .collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        for (batch, vectors) in plan.iter().zip(cpu.embed_batches(&batches)?) {
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_ids_candle(&self, model: &CandleBert, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        for batch in plan_batches(ids, self.max_batch_tokens) {
            // Sorted longest first, so the first text sets the padded length.
            let seq_len = ids[batch[0]].len().max(1);
            let lengths: Vec<usize> = batch.iter().map(|&i| ids[i].len()).collect();
            let mut padded = vec![0u32; batch.len() * seq_len];
            for (row, &i) in padded.chunks_mut(seq_len).zip(&batch) {
                row[..ids[i].len()].copy_from_slice(ids[i]);
            }
            let states = model.forward(&padded, &lengths, seq_len)?;
            let vectors = pool(&states, &lengths, self.config.pooling)?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Splits the texts into batches of about equal token counts (unpadded), so that the threads
/// finish together: a multiple of `threads` batches, each of about `max_batch_tokens` at most,
/// filled longest text first, each text into the batch with the fewest tokens so far.
fn balanced_batches(ids: &[&[u32]], threads: usize, max_batch_tokens: usize) -> Vec<Vec<usize>> {
    let total: usize = ids.iter().map(|t| t.len()).sum();
    let threads = threads.max(1);
    let rounds = total.div_ceil(threads * max_batch_tokens.max(1)).max(1);
    let count = (threads * rounds).min(ids.len());
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let mut batches: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); count];
    for i in order {
        let Some(lightest) = batches.iter_mut().min_by_key(|(tokens, _)| *tokens) else {
            break;
        };
        lightest.0 += ids[i].len();
        lightest.1.push(i);
    }
    batches
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty())
        .collect()
}

/// Groups text indices into batches for padded encoding: longest first, each batch as large as
/// fits in `max_batch_tokens` padded tokens (texts × its longest text), at least one text per
/// batch.
fn plan_batches(ids: &[&[u32]], max_batch_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        if let Some(&first) = current.first() {
            let longest = ids[first].len().max(1);
            if (current.len() + 1) * longest > max_batch_tokens {
                batches.push(std::mem::take(&mut current));
            }
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl Embedder for BertEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .model_tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        self.embed_ids(&ids)
    }

    fn dims(&self) -> usize {
        self.config.hidden_size
    }

    fn max_tokens(&self) -> usize {
        self.config.max_tokens
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

#[cfg(test)]
mod tests {
    use super::{balanced_batches, plan_batches};

    fn texts(lens: &[usize]) -> Vec<Vec<u32>> {
        lens.iter().map(|&n| vec![7; n]).collect()
    }

    #[test]
    fn padded_batches_respect_the_token_budget_longest_first() {
        let texts = texts(&[3, 10, 1, 10, 5, 2]);
        let ids: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
        let batches = plan_batches(&ids, 20);
        assert_eq!(batches, vec![vec![1, 3], vec![4, 0, 5, 2]]);
        // A text over the budget still runs, alone.
        let batches = plan_batches(&ids, 4);
        assert_eq!(batches[0], vec![1]);
        assert_eq!(batches[1], vec![3]);
        let all: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(all, ids.len());
        assert!(plan_batches(&[], 10).is_empty());
    }

    #[test]
    fn balanced_batches_share_the_tokens_out_evenly() {
        let lens = [3, 10, 1, 10, 5, 2, 9, 4, 4, 8];
        let texts = texts(&lens);
        let ids: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
        let tokens = |b: &Vec<usize>| b.iter().map(|&i| lens[i]).sum::<usize>();
        // 56 tokens, 2 threads, at most 100 per batch: two batches of 28.
        let batches = balanced_batches(&ids, 2, 100);
        assert_eq!(batches.iter().map(tokens).collect::<Vec<_>>(), vec![28, 28]);
        // At most 10 per batch: a multiple of the threads (6), none far over the budget.
        let batches = balanced_batches(&ids, 2, 10);
        assert_eq!(batches.len(), 6);
        assert!(batches.iter().all(|b| tokens(b) <= 10 + 1), "{batches:?}");
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>(), "every text once");
        // Fewer texts than threads: one batch each, none empty.
        assert_eq!(balanced_batches(&ids[..1], 4, 100), vec![vec![0]]);
        assert!(balanced_batches(&[], 2, 100).is_empty());
    }
}
