//! A BERT checkpoint's tensors, read from `model.safetensors` and checked against the config,
//! in the form both backends start from: the query, key and value projections fused into one
//! matrix with the `1/sqrt(head_dim)` attention scale folded into the query part, and the
//! token-type-0 embedding pre-added to the position embeddings (docfleet never sets token types).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// `y = x · Wᵀ + b`, the weight in PyTorch's `[out, in]` layout.
pub(crate) struct LinearWeights {
    pub weight: Tensor,
    pub bias: Tensor,
}

pub(crate) struct NormWeights {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f32,
}

pub(crate) struct LayerWeights {
    /// Query (pre-scaled), key and value: `[3 * hidden, hidden]`.
    pub qkv: LinearWeights,
    pub attention_out: LinearWeights,
    pub attention_norm: NormWeights,
    pub intermediate: LinearWeights,
    pub output: LinearWeights,
    pub output_norm: NormWeights,
}

pub(crate) struct BertWeights {
    /// `[vocab, hidden]`.
    pub word_embeddings: Tensor,
    /// Position embeddings plus the token-type-0 embedding: `[max_positions, hidden]`.
    pub position_embeddings: Tensor,
    pub embedding_norm: NormWeights,
    pub layers: Vec<LayerWeights>,
}

impl BertWeights {
    /// Reads `path` onto `device`, every tensor as f32.
    pub fn load(path: &Path, config: &ModelConfig, device: &Device) -> Result<Self> {
        let tensors =
            candle_core::safetensors::load(path, device).map_err(|e| Error::ModelFiles {
                path: path.display().to_string(),
                message: format!("cannot read safetensors: {e}"),
            })?;
        let w = Tensors { tensors, path };
        let h = config.hidden_size;
        let eps = config.layer_norm_eps;

        let word_embeddings =
            w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let positions = w.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let token_types = w.get(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        let position_embeddings = positions.broadcast_add(&token_types.get(0)?)?;
        let embedding_norm = w.layer_norm("embeddings.LayerNorm", h, eps)?;

        let scale = 1.0 / (config.head_dim() as f64).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let get = |name: &str, shape: &[usize]| w.get(&format!("{p}.{name}"), shape);
            let qkv = LinearWeights {
                weight: Tensor::cat(
                    &[
                        (get("attention.self.query.weight", &[h, h])? * scale)?,
                        get("attention.self.key.weight", &[h, h])?,
                        get("attention.self.value.weight", &[h, h])?,
                    ],
                    0,
                )?,
                bias: Tensor::cat(
                    &[
                        (get("attention.self.query.bias", &[h])? * scale)?,
                        get("attention.self.key.bias", &[h])?,
                        get("attention.self.value.bias", &[h])?,
                    ],
                    0,
                )?,
            };
            let inner = config.intermediate_size;
            layers.push(LayerWeights {
                qkv,
                attention_out: w.linear(&format!("{p}.attention.output.dense"), h, h)?,
                attention_norm: w.layer_norm(&format!("{p}.attention.output.LayerNorm"), h, eps)?,
                intermediate: w.linear(&format!("{p}.intermediate.dense"), h, inner)?,
                output: w.linear(&format!("{p}.output.dense"), inner, h)?,
                output_norm: w.layer_norm(&format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Self {
            word_embeddings,
            position_embeddings,
            embedding_norm,
            layers,
        })
    }
}

/// Safetensors tensors by name; accepts names with or without a `bert.` prefix.
struct Tensors<'a> {
    tensors: HashMap<String, Tensor>,
    path: &'a Path,
}

impl Tensors<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let tensor = self
            .tensors
            .get(name)
            .or_else(|| self.tensors.get(&format!("bert.{name}")))
            .ok_or_else(|| Error::ModelFiles {
                path: self.path.display().to_string(),
                message: format!("tensor {name} not found"),
            })?;
        if tensor.dims() != shape {
            return Err(Error::ModelFiles {
                path: self.path.display().to_string(),
                message: format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    tensor.dims()
                ),
            });
        }
        Ok(tensor.to_dtype(DType::F32)?)
    }

    fn linear(&self, prefix: &str, in_dim: usize, out_dim: usize) -> Result<LinearWeights> {
        Ok(LinearWeights {
            weight: self.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?,
            bias: self.get(&format!("{prefix}.bias"), &[out_dim])?,
        })
    }

    fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<NormWeights> {
        // Older checkpoints name LayerNorm parameters gamma/beta.
        let weight = self
            .get(&format!("{prefix}.weight"), &[dim])
            .or_else(|_| self.get(&format!("{prefix}.gamma"), &[dim]))?;
        let bias = self
            .get(&format!("{prefix}.bias"), &[dim])
            .or_else(|_| self.get(&format!("{prefix}.beta"), &[dim]))?;
        Ok(NormWeights {
            weight,
            bias,
            eps: eps as f32,
        })
    }
}
