//! Self-attention over packed texts: each text attends only to its own tokens, so there is no
//! padding and no mask. Per text and head, the scores `q · kᵀ` (`[len, len]`, at most 256 KiB,
//! in cache), their softmax, then `probs · v` written straight into the head's columns of the
//! context: no permute, no `contiguous()` copy. The softmax's division is applied to that
//! `[len, head_dim]` result rather than to the `[len, len]` probabilities.

use super::matmul::{Mat, MatMut, matmul};
use super::simd::{scale_rows, softmax_rows_unscaled};

/// Shapes of the attention of one layer.
#[derive(Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub head_dim: usize,
}

impl Heads {
    fn hidden(self) -> usize {
        self.heads * self.head_dim
    }
}

/// A score below any real one: `exp` clamps it to about 1e-38.
const PAD_SCORE: f32 = -1e30;

/// A row of `len` scores padded to a multiple of 16 (the widest vectors' lanes).
fn padded_row(len: usize) -> usize {
    len.div_ceil(16) * 16
}

/// `qkv`: `[tokens, 3 * hidden]`, each row `[q (pre-scaled) | k | v]` with heads side by side;
/// the texts' tokens follow each other, `lengths` long. Writes `context` (`[tokens, hidden]`).
/// `scores` is scratch space, grown as needed.
pub fn attend(
    qkv: &[f32],
    lengths: &[usize],
    shape: Heads,
    context: &mut [f32],
    scores: &mut Vec<f32>,
) {
    let (hidden, d) = (shape.hidden(), shape.head_dim);
    let qkv_stride = 3 * hidden;
    let longest = lengths.iter().copied().max().unwrap_or(0);
    // The scores, rows padded to whole vectors (see below), then one row factor per query.
    let needed = longest * padded_row(longest) + longest;
    if scores.len() < needed {
        scores.resize(needed, 0.0);
    }
    let mut first = 0;
    for &len in lengths {
        let rows = &qkv[first * qkv_stride..(first + len) * qkv_stride];
        let out = &mut context[first * hidden..(first + len) * hidden];
        for h in 0..shape.heads {
            let column =
                |part: usize| Mat::rows(&rows[part * hidden + h * d..], len, d, qkv_stride);
            let (q, k, v) = (column(0), column(1), column(2));
            let row = padded_row(len);
            let (s, inv_sums) = scores.split_at_mut(len * row);
            let inv_sums = &mut inv_sums[..len];
            matmul(MatMut::rows(s, len, len, row), q, k.t(), false);
            // The padding's scores are so low that their exp is ~1e-38: the softmax runs on
            // whole vectors, with no scalar tail, and the padding adds nothing to the sums.
            for r in 0..len {
                s[r * row + len..(r + 1) * row].fill(PAD_SCORE);
            }
            softmax_rows_unscaled(s, row, inv_sums);
            let head_out = &mut out[h * d..];
            matmul(
                MatMut::rows(head_out, len, d, hidden),
                Mat::rows(s, len, len, row),
                v,
                false,
            );
            scale_rows(head_out, d, hidden, inv_sums);
        }
        first += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, one text at a time, in f64.
    fn naive(qkv: &[f32], lengths: &[usize], heads: usize, d: usize) -> Vec<f32> {
        let hidden = heads * d;
        let at = |t: usize, part: usize, h: usize, i: usize| {
            f64::from(qkv[t * 3 * hidden + part * hidden + h * d + i])
        };
        let mut out = vec![0f32; lengths.iter().sum::<usize>() * hidden];
        let mut first = 0;
        for &len in lengths {
            for h in 0..heads {
                for i in 0..len {
                    let s: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..d)
                                .map(|x| at(first + i, 0, h, x) * at(first + j, 1, h, x))
                                .sum()
                        })
                        .collect();
                    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
                    let total: f64 = e.iter().sum();
                    for x in 0..d {
                        let v: f64 = (0..len)
                            .map(|j| e[j] / total * at(first + j, 2, h, x))
                            .sum();
                        out[(first + i) * hidden + h * d + x] = v as f32;
                    }
                }
            }
            first += len;
        }
        out
    }

    #[test]
    fn packed_texts_attend_only_to_themselves() {
        let (heads, d) = (3, 4);
        let lengths = [5, 1, 3];
        let tokens: usize = lengths.iter().sum();
        let qkv: Vec<f32> = (0..tokens * 3 * heads * d)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let mut context = vec![f32::NAN; tokens * heads * d];
        let mut scores = Vec::new();
        attend(
            &qkv,
            &lengths,
            Heads { heads, head_dim: d },
            &mut context,
            &mut scores,
        );
        let want = naive(&qkv, &lengths, heads, d);
        for (i, (a, b)) in context.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-5, "element {i}: {a} vs {b}");
        }
        // A text of one token attends to itself alone: its context is its own value.
        let t = 5;
        for h in 0..heads {
            for x in 0..d {
                let v = qkv[t * 3 * heads * d + 2 * heads * d + h * d + x];
                assert!((context[t * heads * d + h * d + x] - v).abs() < 1e-6);
            }
        }
    }
}
