//! One batch through the encoder on the calling thread. The texts' tokens are packed one after
//! the other (`[tokens, hidden]`, no padding): every step but attention works token by token,
//! and attention (see `attention.rs`) keeps to each text's own tokens. The feed-forward block
//! runs on blocks of rows so that its wide intermediate activations stay in the core's cache.

use super::attention::{Heads, attend};
use super::grown;
use super::lowp::{self, LowpScratch};
use super::matmul::{Mat, MatMut, matmul};
use super::simd::{add_bias, add_layer_norm, bias_activation};
use super::weights::{CpuWeights, Linear, Weights};
use crate::config::{ModelConfig, Pooling};
use crate::error::{Error, Result};
use crate::pooling::l2_normalize;

/// Rows of the feed-forward block at a time: 120 × 1536 floats (720 KiB) for MiniLM; a multiple
/// of the low-precision kernels' 6-row tiles.
const FFN_BLOCK_ROWS: usize = 120;

/// Scratch buffers of one thread, reused from batch to batch.
#[derive(Default)]
pub struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
    lowp: LowpScratch,
}

/// `out = x · W`; the bias is left to the next step, which fuses it.
fn project(out: &mut [f32], x: &[f32], rows: usize, linear: &Linear, scratch: &mut LowpScratch) {
    let (inputs, outputs) = (linear.inputs, linear.outputs);
    match &linear.weights {
        Weights::Packed(packed) => lowp::project(out, x, rows, packed, scratch),
        Weights::F32(weight_t) => matmul(
            MatMut::rows(out, rows, outputs, outputs),
            Mat::rows(x, rows, inputs, inputs),
            Mat::rows(weight_t, inputs, outputs, outputs),
            false,
        ),
    }
}

/// Encodes `texts` (token ids, special tokens included, each within the model's limit) and
/// pools each into one unit vector.
pub fn embed_batch(
    w: &CpuWeights,
    config: &ModelConfig,
    texts: &[&[u32]],
    ws: &mut Workspace,
) -> Result<Vec<Vec<f32>>> {
    let hidden = config.hidden_size;
    let lengths: Vec<usize> = texts.iter().map(|t| t.len()).collect();
    let tokens: usize = lengths.iter().sum();
    let x = grown(&mut ws.x, tokens * hidden);
    embed_tokens(w, config, texts, x)?;

    let heads = Heads {
        heads: config.num_attention_heads,
        head_dim: config.head_dim(),
    };
    let inner_dim = config.intermediate_size;
    for layer in &w.layers {
        let qkv = grown(&mut ws.qkv, tokens * 3 * hidden);
        project(qkv, x, tokens, &layer.qkv, &mut ws.lowp);
        add_bias(qkv, &layer.qkv.bias);
        let context = grown(&mut ws.context, tokens * hidden);
        attend(qkv, &lengths, heads, context, &mut ws.scores);
        let projected = grown(&mut ws.projected, tokens * hidden);
        project(
            projected,
            context,
            tokens,
            &layer.attention_out,
            &mut ws.lowp,
        );
        add_layer_norm(
            x,
            projected,
            hidden,
            &layer.attention_out.bias,
            &layer.attention_norm.as_norm(),
        );

        for first in (0..tokens).step_by(FFN_BLOCK_ROWS) {
            let rows = FFN_BLOCK_ROWS.min(tokens - first);
            let block = &mut x[first * hidden..(first + rows) * hidden];
            let inner = grown(&mut ws.inner, rows * inner_dim);
            project(inner, block, rows, &layer.intermediate, &mut ws.lowp);
            bias_activation(inner, &layer.intermediate.bias, config.activation);
            let out = &mut projected[..rows * hidden];
            project(out, inner, rows, &layer.output, &mut ws.lowp);
            add_layer_norm(
                block,
                out,
                hidden,
                &layer.output.bias,
                &layer.output_norm.as_norm(),
            );
        }
    }
    Ok(pool(x, &lengths, hidden, config.pooling))
}

/// `x` = LayerNorm(word embedding + position embedding) of every token.
fn embed_tokens(
    w: &CpuWeights,
    config: &ModelConfig,
    texts: &[&[u32]],
    x: &mut [f32],
) -> Result<()> {
    let hidden = config.hidden_size;
    let max_positions = config.max_position_embeddings;
    let mut first = 0;
    for ids in texts {
        if ids.len() > max_positions {
            return Err(Error::Input(format!(
                "a text of {} tokens is longer than the model's {max_positions} positions",
                ids.len()
            )));
        }
        let rows = &mut x[first * hidden..(first + ids.len()) * hidden];
        for (row, &id) in rows.chunks_exact_mut(hidden).zip(ids.iter()) {
            let id = id as usize;
            if id >= config.vocab_size {
                return Err(Error::Input(format!(
                    "token id {id} is outside the model's vocabulary of {}",
                    config.vocab_size
                )));
            }
            row.copy_from_slice(&w.word_embeddings[id * hidden..(id + 1) * hidden]);
        }
        add_layer_norm(
            rows,
            &w.position_embeddings,
            hidden,
            &w.zeros,
            &w.embedding_norm.as_norm(),
        );
        first += ids.len();
    }
    Ok(())
}

/// One L2-normalised vector per text from its rows of `x`.
fn pool(x: &[f32], lengths: &[usize], hidden: usize, pooling: Pooling) -> Vec<Vec<f32>> {
    let mut first = 0;
    lengths
        .iter()
        .map(|&len| {
            let rows = &x[first * hidden..(first + len) * hidden];
            first += len;
            let mut v = vec![0f32; hidden];
            match pooling {
                Pooling::Cls if rows.len() >= hidden => v.copy_from_slice(&rows[..hidden]),
                Pooling::Cls => {}
                Pooling::Mean => {
                    for row in rows.chunks_exact(hidden) {
                        v.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
                    }
                    let inv = 1.0 / len.max(1) as f32;
                    v.iter_mut().for_each(|a| *a *= inv);
                }
            }
            l2_normalize(&mut v);
            v
        })
        .collect()
}
