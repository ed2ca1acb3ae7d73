//! Fused CPU kernels for the two element-wise hot spots of the encoder, as candle custom ops:
//! softmax over the real (unpadded) keys of each text, and bias + activation after the
//! intermediate projection. Both are written as plain loops that the compiler vectorises, with
//! an `exp` accurate to a few ulp instead of libm's scalar call, and split across candle's
//! thread count. Other devices use candle's own ops (see `bert.rs`).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::config::Activation;

/// Rows below this many elements in total run on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Softmax over the last dimension of contiguous f32 attention scores `[B, H, T, T]`, counting
/// only the first `lengths[b]` keys of text `b`; the padded keys get probability 0.
pub fn masked_softmax(scores: &Tensor, lengths: &[usize]) -> candle_core::Result<Tensor> {
    scores.apply_op1_no_bwd(&MaskedSoftmax { lengths })
}

/// `act(x + bias)` for contiguous f32 `x` `[N, bias.len()]`.
pub fn bias_activation(
    x: &Tensor,
    bias: &[f32],
    activation: Activation,
) -> candle_core::Result<Tensor> {
    x.apply_op1_no_bwd(&BiasActivation { bias, activation })
}

fn contiguous_f32<'s>(storage: &'s CpuStorage, layout: &Layout) -> candle_core::Result<&'s [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("input has to be contiguous");
    };
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// Runs `f(row_index, input_row, output_row)` over rows of `row_len`, split across threads.
fn for_rows<F>(input: &[f32], row_len: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, &[f32], &mut [f32]) + Sync,
{
    let mut out = vec![0f32; input.len()];
    let rows = input.len() / row_len.max(1);
    let threads = candle_core::utils::get_num_threads().clamp(1, rows.max(1));
    let run = |first_row: usize, inp: &[f32], outp: &mut [f32]| {
        for (i, (src, dst)) in inp
            .chunks(row_len)
            .zip(outp.chunks_mut(row_len))
            .enumerate()
        {
            f(first_row + i, src, dst);
        }
    };
    if threads == 1 || input.len() < PARALLEL_MIN_ELEMENTS || row_len == 0 {
        run(0, input, &mut out);
        return out;
    }
    let rows_per_thread = rows.div_ceil(threads);
    let chunk = rows_per_thread * row_len;
    std::thread::scope(|scope| {
        for (t, (inp, outp)) in input.chunks(chunk).zip(out.chunks_mut(chunk)).enumerate() {
            let run = &run;
            scope.spawn(move || run(t * rows_per_thread, inp, outp));
        }
    });
    out
}

struct MaskedSoftmax<'a> {
    lengths: &'a [usize],
}

impl CustomOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, heads, queries, keys) = layout.shape().dims4()?;
        if batch != self.lengths.len() {
            candle_core::bail!(
                "masked-softmax: {} lengths for batch {batch}",
                self.lengths.len()
            );
        }
        let input = contiguous_f32(storage, layout)?;
        let rows_per_text = heads * queries;
        let out = for_rows(input, keys, |row, src, dst| {
            let len = self.lengths[row / rows_per_text].clamp(1, keys);
            softmax_row(&src[..len], &mut dst[..len]);
        });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

fn softmax_row(src: &[f32], dst: &mut [f32]) {
    // Eight independent lanes so the reductions vectorise (float ops are not reassociated).
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = src.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = l.max(v);
        }
    }
    let max = tail
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = exp(s - max);
    }
    let mut lanes = [0f32; 8];
    let chunks = dst.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let sum: f32 = lanes.iter().chain(tail).sum();
    let inv = 1.0 / sum;
    dst.iter_mut().for_each(|d| *d *= inv);
}

struct BiasActivation<'a> {
    bias: &'a [f32],
    activation: Activation,
}

impl CustomOp1 for BiasActivation<'_> {
    fn name(&self) -> &'static str {
        "bias-activation"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dim = layout.shape().dims().last().copied().unwrap_or(0);
        if dim != self.bias.len() {
            candle_core::bail!("bias-activation: last dim {dim}, bias {}", self.bias.len());
        }
        let input = contiguous_f32(storage, layout)?;
        let bias = self.bias;
        let out = match self.activation {
            Activation::GeluErf => for_rows(input, dim, |_, src, dst| {
                for ((d, &s), &b) in dst.iter_mut().zip(src).zip(bias) {
                    *d = gelu_erf(s + b);
                }
            }),
            Activation::GeluTanh => for_rows(input, dim, |_, src, dst| {
                for ((d, &s), &b) in dst.iter_mut().zip(src).zip(bias) {
                    *d = gelu_tanh(s + b);
                }
            }),
            Activation::Relu => for_rows(input, dim, |_, src, dst| {
                for ((d, &s), &b) in dst.iter_mut().zip(src).zip(bias) {
                    *d = (s + b).max(0.0);
                }
            }),
        };
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `e^x` (Cephes `expf`: relative error about 1e-7), branch-free so loops vectorise. Inputs are
/// clamped to the normal range: below about -87.3 it returns about 1e-38 instead of 0.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let k = x * LOG2E + ROUND;
    let n = k - ROUND;
    // The low mantissa bits of `k` hold n (two's complement): 2^n without a float-int cast.
    let n_int = k.to_bits().wrapping_sub(ROUND.to_bits());
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// Exact GELU, `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU, tanh approximation, with `tanh(u) = 1 - 2 / (e^{2u} + 1)`.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x);
    let tanh = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
    0.5 * x * (1.0 + tanh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut worst_exp = 0f64;
        let mut worst_erf = 0f64;
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.004; // [-80, 80]
            let e = f64::from(exp(x));
            let want = f64::from(x).exp();
            worst_exp = worst_exp.max(((e - want) / want).abs());
            let z = x / 16.0; // [-5, 5]
            let want = libm_erf(f64::from(z));
            worst_erf = worst_erf.max((f64::from(erf(z)) - want).abs());
        }
        assert!(worst_exp < 5e-7, "exp relative error {worst_exp}");
        assert!(worst_erf < 6e-7, "erf absolute error {worst_erf}");
        assert_eq!(exp(-1000.0).to_bits(), exp(-87.3).to_bits());
        assert!(exp(-1000.0) < 1e-37);
    }

    /// erf by its Taylor series (|x| <= 3) or continued-fraction erfc (|x| > 3), in f64.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let v = if a <= 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
        };
        v.copysign(x)
    }

    #[test]
    fn masked_softmax_zeroes_padding() -> candle_core::Result<()> {
        let dev = candle_core::Device::Cpu;
        let scores =
            Tensor::from_vec(vec![1f32, 2., 3., 50., 1., 2., 3., 50.], (2, 1, 1, 4), &dev)?;
        let p = masked_softmax(&scores, &[3, 4])?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let want = candle_nn::ops::softmax_last_dim(&Tensor::new(&[1f32, 2., 3.], &dev)?)?
            .to_vec1::<f32>()?;
        for i in 0..3 {
            assert!((p[i] - want[i]).abs() < 1e-6);
        }
        assert_eq!(p[3], 0.0);
        assert!((p[7] - 1.0).abs() < 1e-6);
        Ok(())
    }
}
