//! A small BERT encoder in candle tensors: embeddings, then self-attention / feed-forward layers.
//! It runs on any candle device; docfleet uses it on the GPU (`cuda` feature), and on the CPU only
//! when asked (`Backend::Candle`), since the CPU has its own faster encoder (`cpu/`).
//!
//! Linear weights are stored transposed (`[in, out]`, contiguous) for the matmuls; the fused,
//! pre-scaled QKV matrix and the pre-added position embeddings come from [`BertWeights`].

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::config::{Activation, ModelConfig};
use crate::error::Result;
use crate::weights::{BertWeights, LinearWeights, NormWeights};

/// `y = x · Wᵀ + b` with `Wᵀ` stored contiguous.
struct Linear {
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    fn new(w: LinearWeights) -> Result<Self> {
        Ok(Self {
            weight_t: w.weight.t()?.contiguous()?,
            bias: w.bias,
        })
    }

    /// `x`: `[N, in]` → `[N, out]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn new(w: NormWeights) -> Self {
        Self {
            weight: w.weight,
            bias: w.bias,
            eps: w.eps,
        }
    }

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
    output: Linear,
    output_norm: LayerNorm,
}

/// The encoder. Inputs are padded batches; outputs are the last hidden states.
pub struct CandleBert {
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

impl CandleBert {
    /// Loads `model.safetensors` onto `device`.
    pub fn load(path: &Path, config: &ModelConfig, device: &Device) -> Result<Self> {
        let w = BertWeights::load(path, config, device)?;
        let mut layers = Vec::with_capacity(w.layers.len());
        for l in w.layers {
            layers.push(Layer {
                qkv: Linear::new(l.qkv)?,
                attention_out: Linear::new(l.attention_out)?,
                attention_norm: LayerNorm::new(l.attention_norm),
                intermediate: Linear::new(l.intermediate)?,
                output: Linear::new(l.output)?,
                output_norm: LayerNorm::new(l.output_norm),
            });
        }
        Ok(Self {
            word_embeddings: w.word_embeddings,
            position_embeddings: w.position_embeddings,
            embedding_norm: LayerNorm::new(w.embedding_norm),
            layers,
            activation: config.activation,
            heads: config.num_attention_heads,
            head_dim: config.head_dim(),
            hidden: config.hidden_size,
            device: device.clone(),
        })
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

        // An additive mask over keys, [B, 1, 1, T]; none when nothing is padded.
        let mask = if lengths.iter().all(|&l| l == seq_len) {
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
            x = self.layer_forward(layer, &x, mask.as_ref(), batch, seq_len)?;
        }
        x.reshape((batch, seq_len, self.hidden))
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        batch: usize,
        seq_len: usize,
    ) -> candle_core::Result<Tensor> {
        let (heads, head_dim) = (self.heads, self.head_dim);
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
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch * seq_len, self.hidden))?;

        let attended = layer.attention_out.forward(&context)?;
        let x = layer.attention_norm.forward(&(attended + x)?)?;

        let inner = layer.intermediate.forward(&x)?;
        let inner = match self.activation {
            Activation::GeluErf => inner.gelu_erf()?,
            Activation::GeluTanh => inner.gelu()?,
            Activation::Relu => inner.relu()?,
        };
        let out = layer.output.forward(&inner)?;
        layer.output_norm.forward(&(out + x)?)
    }
}
