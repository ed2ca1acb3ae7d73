//! A small BERT encoder in candle: embeddings, then self-attention / feed-forward layers.
//!
//! Weights are reshaped once at load time for the hot path: linear weights are stored
//! transposed (`[in, out]`, contiguous), the query, key and value projections are fused into one
//! matrix with the `1/sqrt(head_dim)` attention scale folded into the query part, and the
//! position and token-type-0 embeddings are pre-added.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::{Activation, ModelConfig};
use crate::error::{Error, Result};

/// Safetensors tensors by name; accepts names with or without a `bert.` prefix.
struct Weights<'a> {
    tensors: HashMap<String, Tensor>,
    path: &'a Path,
}

impl Weights<'_> {
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

    fn linear(&self, prefix: &str, in_dim: usize, out_dim: usize) -> Result<Linear> {
        let weight = self.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?;
        let bias = self.get(&format!("{prefix}.bias"), &[out_dim])?;
        Linear::new(&weight, bias)
    }

    fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        // Older checkpoints name LayerNorm parameters gamma/beta.
        let weight = self
            .get(&format!("{prefix}.weight"), &[dim])
            .or_else(|_| self.get(&format!("{prefix}.gamma"), &[dim]))?;
        let bias = self
            .get(&format!("{prefix}.bias"), &[dim])
            .or_else(|_| self.get(&format!("{prefix}.beta"), &[dim]))?;
        Ok(LayerNorm {
            weight,
            bias,
            eps: eps as f32,
        })
    }
}

/// `y = x · Wᵀ + b` with `Wᵀ` stored contiguous.
struct Linear {
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    /// From a PyTorch-layout weight `[out, in]`.
    fn new(weight: &Tensor, bias: Tensor) -> Result<Self> {
        Ok(Self {
            weight_t: weight.t()?.contiguous()?,
            bias,
        })
    }

    /// `x`: `[N, in]` → `[N, out]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }

    /// `activation(x · Wᵀ + b)`, fused on the CPU.
    fn forward_activation(
        &self,
        x: &Tensor,
        activation: Activation,
        bias_cpu: Option<&[f32]>,
    ) -> candle_core::Result<Tensor> {
        if let Some(bias) = bias_cpu {
            return crate::ops::bias_activation(&x.matmul(&self.weight_t)?, bias, activation);
        }
        let y = self.forward(x)?;
        match activation {
            Activation::GeluErf => y.gelu_erf(),
            Activation::GeluTanh => y.gelu(),
            Activation::Relu => y.relu(),
        }
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    /// Query (pre-scaled), key and value projections side by side: `[hidden, 3 * hidden]`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    /// The intermediate bias as plain floats, for the fused CPU kernel (None on other devices).
    intermediate_bias_cpu: Option<Vec<f32>>,
    output: Linear,
    output_norm: LayerNorm,
}

/// The encoder. Inputs are padded batches; outputs are the last hidden states.
pub struct Bert {
    word_embeddings: Tensor,
    /// Position embeddings plus the token-type-0 embedding: `[max_positions, hidden]`.
    position_embeddings: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    activation: Activation,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    device: Device,
}

impl Bert {
    /// Loads `model.safetensors` onto `device`.
    pub fn load(path: &Path, config: &ModelConfig, device: &Device) -> Result<Self> {
        let tensors =
            candle_core::safetensors::load(path, device).map_err(|e| Error::ModelFiles {
                path: path.display().to_string(),
                message: format!("cannot read safetensors: {e}"),
            })?;
        let w = Weights { tensors, path };
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
            let qkv_weight = Tensor::cat(
                &[
                    (get("attention.self.query.weight", &[h, h])? * scale)?,
                    get("attention.self.key.weight", &[h, h])?,
                    get("attention.self.value.weight", &[h, h])?,
                ],
                0,
            )?;
            let qkv_bias = Tensor::cat(
                &[
                    (get("attention.self.query.bias", &[h])? * scale)?,
                    get("attention.self.key.bias", &[h])?,
                    get("attention.self.value.bias", &[h])?,
                ],
                0,
            )?;
            let intermediate = w.linear(
                &format!("{p}.intermediate.dense"),
                h,
                config.intermediate_size,
            )?;
            let intermediate_bias_cpu = if device.is_cpu() {
                Some(intermediate.bias.to_vec1::<f32>()?)
            } else {
                None
            };
            layers.push(Layer {
                qkv: Linear::new(&qkv_weight, qkv_bias)?,
                attention_out: w.linear(&format!("{p}.attention.output.dense"), h, h)?,
                attention_norm: w.layer_norm(&format!("{p}.attention.output.LayerNorm"), h, eps)?,
                intermediate,
                intermediate_bias_cpu,
                output: w.linear(&format!("{p}.output.dense"), config.intermediate_size, h)?,
                output_norm: w.layer_norm(&format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }

        Ok(Self {
            word_embeddings,
            position_embeddings,
            embedding_norm,
            layers,
            activation: config.activation,
            heads: config.num_attention_heads,
            head_dim: config.head_dim(),
            hidden: h,
            device: device.clone(),
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the encoder on `batch` texts of `seq_len` token ids each (row-major, padded with any
    /// id). `lengths[i]` is the number of real tokens of text `i`; the rest are masked out.
    /// Returns the last hidden states, `[batch, seq_len, hidden]`.
    pub fn forward(
        &self,
        ids: &[u32],
        lengths: &[usize],
        seq_len: usize,
    ) -> candle_core::Result<Tensor> {
        let batch = lengths.len();
        if ids.len() != batch * seq_len {
            candle_core::bail!("{} ids for a batch of {batch} x {seq_len}", ids.len());
        }
        let max_positions = self.position_embeddings.dim(0)?;
        if seq_len > max_positions {
            candle_core::bail!("sequence of {seq_len} tokens is longer than {max_positions}");
        }
        let rows = batch * seq_len;

        // Embeddings: word + (position + token type 0), then LayerNorm. Shape [B*T, H].
        let ids_t = Tensor::from_slice(ids, rows, &self.device)?;
        let words = self.word_embeddings.index_select(&ids_t, 0)?;
        let positions = self.position_embeddings.narrow(0, 0, seq_len)?;
        let x = words
            .reshape((batch, seq_len, self.hidden))?
            .broadcast_add(&positions)?
            .reshape((rows, self.hidden))?;
        let mut x = self.embedding_norm.forward(&x)?;

        // On the CPU a fused kernel masks padded keys inside the softmax. Elsewhere: an additive
        // mask over keys, [B, 1, 1, T]; none when nothing is padded.
        let mask = if self.device.is_cpu() || lengths.iter().all(|&l| l == seq_len) {
            None
        } else {
            let mut values = vec![0f32; rows];
            for (row, &len) in values.chunks_mut(seq_len).zip(lengths) {
                row[len.min(seq_len)..].fill(f32::MIN);
            }
            Some(Tensor::from_vec(
                values,
                (batch, 1, 1, seq_len),
                &self.device,
            )?)
        };

        for layer in &self.layers {
            x = self.layer_forward(layer, &x, mask.as_ref(), lengths, seq_len)?;
        }
        x.reshape((batch, seq_len, self.hidden))
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        lengths: &[usize],
        seq_len: usize,
    ) -> candle_core::Result<Tensor> {
        let (heads, head_dim, batch) = (self.heads, self.head_dim, lengths.len());
        // [B*T, 3H] → [3, B, heads, T, head_dim]: one copy for q, k and v together.
        let qkv = layer
            .qkv
            .forward(x)?
            .reshape((batch, seq_len, 3, heads, head_dim))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let q = qkv.get(0)?;
        let k = qkv.get(1)?;
        let v = qkv.get(2)?;

        // The query is pre-scaled by 1/sqrt(head_dim).
        let scores = q.matmul(&k.t()?)?;
        let probs = if self.device.is_cpu() {
            crate::ops::masked_softmax(&scores, lengths)?
        } else {
            let scores = match mask {
                Some(mask) => scores.broadcast_add(mask)?,
                None => scores,
            };
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch * seq_len, self.hidden))?;

        let attended = layer.attention_out.forward(&context)?;
        let x = layer.attention_norm.forward(&(attended + x)?)?;

        let inner = layer.intermediate.forward_activation(
            &x,
            self.activation,
            layer.intermediate_bias_cpu.as_deref(),
        )?;
        let out = layer.output.forward(&inner)?;
        layer.output_norm.forward(&(out + x)?)
    }
}
