//! Activations converted for the kernels, per product, into scratch buffers reused from batch to
//! batch: bf16 by rounding to nearest even; int8 by dynamic quantisation, each row to unsigned
//! bytes with its own scale and zero point (`x ≈ scale · (q − zero)`), so a row's outliers cost
//! that row alone its resolution.

use super::kernels::MR;

use crate::cpu::grown;
use crate::cpu::simd::{max_by, multiversion};

/// `x` as bf16 bits, rounded to nearest even (finite inputs).
#[inline(always)]
pub fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// Activation rows quantised to bytes.
#[derive(Default)]
pub struct Int8Rows {
    pub rows: Vec<u8>,
    pub scales: Vec<f32>,
    pub zeros: Vec<i32>,
}

/// Scratch space of one encoder thread.
#[derive(Default)]
pub struct LowpScratch {
    bf16: Vec<u16>,
    int8: Int8Rows,
}

impl LowpScratch {
    /// `x` (`[rows, k]`) as bf16 rows of `row_len` (≥ k, zero-padded), rows padded to `MR`.
    pub fn bf16_rows(&mut self, x: &[f32], rows: usize, k: usize, row_len: usize) -> &[u16] {
        let out = grown(&mut self.bf16, rows.div_ceil(MR) * MR * row_len);
        to_bf16_rows(out, row_len, x, k);
        out
    }

    /// `x` (`[rows, k]`) quantised, rows of `row_len` bytes (≥ k), rows padded to `MR`.
    pub fn int8_rows(&mut self, x: &[f32], rows: usize, k: usize, row_len: usize) -> &Int8Rows {
        let q = &mut self.int8;
        grown(&mut q.rows, rows.div_ceil(MR) * MR * row_len);
        grown(&mut q.scales, rows);
        grown(&mut q.zeros, rows);
        quantise_rows(&mut q.rows, row_len, x, k, &mut q.scales, &mut q.zeros);
        q
    }
}

multiversion! {
    /// Each `k`-long row of `x` as bf16 into a `row_len`-long row of `out`, the rest zero.
    fn to_bf16_rows(out: &mut [u16], row_len: usize, x: &[f32], k: usize) {
        for (dst, src) in out.chunks_exact_mut(row_len).zip(x.chunks_exact(k)) {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = bf16_bits(s);
            }
            dst[k..].fill(0);
        }
    }
}

multiversion! {
    /// Each `k`-long row of `x` to bytes in a `row_len`-long row of `out` (the rest zero), its
    /// scale and zero point into `scales` and `zeros`. The range always holds 0, so zero
    /// activations (and padding) are exact.
    fn quantise_rows(out: &mut [u8], row_len: usize, x: &[f32], k: usize, scales: &mut [f32], zeros: &mut [i32]) {
        let rows = out.chunks_exact_mut(row_len).zip(x.chunks_exact(k));
        for ((dst, src), (scale, zero)) in rows.zip(scales.iter_mut().zip(zeros.iter_mut())) {
            let (lo, hi) = min_max(src);
            let range = hi.max(0.0) - lo.min(0.0);
            let s = if range > 0.0 { range / 255.0 } else { 1.0 };
            let inv = 1.0 / s;
            let z = (-lo.min(0.0) * inv).round_ties_even().clamp(0.0, 255.0);
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = round_to_byte(v * inv + z);
            }
            dst[k..].fill(z as u8);
            *scale = s;
            *zero = z as i32;
        }
    }
}

/// `x` clamped to [0, 255] and rounded to nearest even, without a call to `rintf` (which
/// does not vectorise): adding 1.5 · 2^23 leaves the integer in the low mantissa bits.
#[inline(always)]
pub(super) fn round_to_byte(x: f32) -> u8 {
    const ROUND: f32 = 12_582_912.0;
    ((x.clamp(0.0, 255.0) + ROUND).to_bits() & 0xff) as u8
}

/// The smallest and largest of `xs` (NaN-free), each in a vectorised pass of its own (one loop
/// with both reductions did not vectorise).
#[inline(always)]
fn min_max(xs: &[f32]) -> (f32, f32) {
    (-max_by(xs, |v| -v), max_by(xs, |v| v))
}
