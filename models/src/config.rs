//! Model configuration: `config.json` (BERT hyper-parameters), `1_Pooling/config.json` (pooling
//! mode) and `sentence_bert_config.json` (the longest input the sentence model was trained on).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The activation in each layer's feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `x * Φ(x)` with the error function (`gelu` in transformers).
    GeluErf,
    /// The tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

/// How token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// Mean of the token vectors under the attention mask.
    #[default]
    Mean,
    /// The first (`[CLS]`) token's vector.
    Cls,
}

/// What the embedder needs to know about a BERT-family model folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pooling: Pooling,
    /// Longest input in tokens, special tokens included: `sentence_bert_config.json`'s
    /// `max_seq_length` when present, else `max_position_embeddings`.
    pub max_tokens: usize,
}

#[derive(Deserialize)]
struct BertJson {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".to_owned()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

#[derive(Deserialize)]
struct PoolingJson {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertJson {
    max_seq_length: Option<usize>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::ModelFiles {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("invalid JSON: {e}")))
}

impl ModelConfig {
    /// Reads the configuration of the model in `model_dir`. `config.json` must exist; the pooling
    /// and sentence-transformers files are optional (mean pooling, `max_position_embeddings`).
    pub fn load(model_dir: &Path) -> Result<Self> {
        let config_path = crate::tokenize::require_file(model_dir, "config.json")?;
        let bert: BertJson = read_json(&config_path)?;

        let activation = match bert.hidden_act.as_str() {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(bad(
                    &config_path,
                    format!("unsupported hidden_act {other:?}"),
                ));
            }
        };
        if let Some(kind) = bert.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            return Err(bad(
                &config_path,
                format!("unsupported position_embedding_type {kind:?}"),
            ));
        }
        if bert.num_attention_heads == 0
            || !bert.hidden_size.is_multiple_of(bert.num_attention_heads)
        {
            return Err(bad(
                &config_path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    bert.hidden_size, bert.num_attention_heads
                ),
            ));
        }

        let pooling_path = model_dir.join("1_Pooling").join("config.json");
        let pooling = if pooling_path.is_file() {
            let p: PoolingJson = read_json(&pooling_path)?;
            if p.pooling_mode_max_tokens || p.pooling_mode_mean_sqrt_len_tokens {
                return Err(bad(&pooling_path, "only mean or CLS pooling is supported"));
            }
            match (p.pooling_mode_mean_tokens, p.pooling_mode_cls_token) {
                (_, false) => Pooling::Mean,
                (false, true) => Pooling::Cls,
                (true, true) => {
                    return Err(bad(
                        &pooling_path,
                        "combined mean and CLS pooling is not supported",
                    ));
                }
            }
        } else {
            Pooling::Mean
        };

        let sbert_path = model_dir.join("sentence_bert_config.json");
        let max_tokens = if sbert_path.is_file() {
            let s: SentenceBertJson = read_json(&sbert_path)?;
            s.max_seq_length.unwrap_or(bert.max_position_embeddings)
        } else {
            bert.max_position_embeddings
        }
        .min(bert.max_position_embeddings);
        if max_tokens < 2 {
            return Err(bad(
                &config_path,
                format!("max tokens {max_tokens} is too small"),
            ));
        }

        Ok(Self {
            vocab_size: bert.vocab_size,
            hidden_size: bert.hidden_size,
            num_hidden_layers: bert.num_hidden_layers,
            num_attention_heads: bert.num_attention_heads,
            intermediate_size: bert.intermediate_size,
            activation,
            max_position_embeddings: bert.max_position_embeddings,
            type_vocab_size: bert.type_vocab_size,
            layer_norm_eps: bert.layer_norm_eps,
            pooling,
            max_tokens,
        })
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}
