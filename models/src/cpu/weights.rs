//! The encoder's weights as plain `f32` buffers, linear weights transposed to `[in, out]` so the
//! products read them row by row, or packed for the low-precision kernels (`lowp/`).

use candle_core::Tensor;

use super::lowp::{PackedLinear, Precision};
use super::simd::Norm;
use crate::error::Result;
use crate::weights::{BertWeights, LinearWeights, NormWeights};

/// A linear layer's weights in the form its products take.
pub enum Weights {
    /// `[inputs, outputs]`, row-major, for the f32 products.
    F32(Vec<f32>),
    /// Packed for the low-precision kernels.
    Packed(PackedLinear),
}

pub struct Linear {
    pub weights: Weights,
    pub bias: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
}

pub struct NormParams {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

impl NormParams {
    /// The view the layer-norm kernel takes.
    pub fn as_norm(&self) -> Norm<'_> {
        Norm {
            gamma: &self.gamma,
            beta: &self.beta,
            eps: self.eps,
        }
    }
}

pub struct Layer {
    pub qkv: Linear,
    pub attention_out: Linear,
    pub attention_norm: NormParams,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_norm: NormParams,
}

pub struct CpuWeights {
    /// `[vocab, hidden]`.
    pub word_embeddings: Vec<f32>,
    /// Position (+ token type 0) embeddings, `[max_positions, hidden]`.
    pub position_embeddings: Vec<f32>,
    pub embedding_norm: NormParams,
    pub layers: Vec<Layer>,
    /// `hidden` zeros: the embeddings' layer norm has no bias of its own to add.
    pub zeros: Vec<f32>,
}

fn floats(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

fn linear(w: LinearWeights, precision: Precision) -> Result<Linear> {
    let (outputs, inputs) = w.weight.dims2()?;
    let weight_t = floats(&w.weight.t()?.contiguous()?)?;
    // The f32 copy goes once packed.
    let weights = match PackedLinear::new(&weight_t, inputs, outputs, precision) {
        Some(packed) => Weights::Packed(packed),
        None => Weights::F32(weight_t),
    };
    Ok(Linear {
        weights,
        bias: floats(&w.bias)?,
        inputs,
        outputs,
    })
}

fn norm(w: NormWeights) -> Result<NormParams> {
    Ok(NormParams {
        gamma: floats(&w.weight)?,
        beta: floats(&w.bias)?,
        eps: w.eps,
    })
}

impl CpuWeights {
    /// The weights for `precision`, which the CPU has (see [`Precision::supported`]).
    pub fn new(w: BertWeights, precision: Precision) -> Result<Self> {
        let hidden = w.word_embeddings.dim(1)?;
        let layers = w
            .layers
            .into_iter()
            .map(|l| {
                Ok(Layer {
                    qkv: linear(l.qkv, precision)?,
                    attention_out: linear(l.attention_out, precision)?,
                    attention_norm: norm(l.attention_norm)?,
                    intermediate: linear(l.intermediate, precision)?,
                    output: linear(l.output, precision)?,
                    output_norm: norm(l.output_norm)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            word_embeddings: floats(&w.word_embeddings)?,
            position_embeddings: floats(&w.position_embeddings)?,
            embedding_norm: norm(w.embedding_norm)?,
            layers,
            zeros: vec![0.0; hidden],
        })
    }
}
