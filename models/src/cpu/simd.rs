//! Element-wise kernels of the encoder over whole buffers (layer norm with its residual, bias +
//! activation, softmax), compiled three times: for AVX-512, for AVX2 + FMA and for the baseline,
//! and picked at run time from the CPU, so one binary runs everywhere and uses the widest
//! vectors the machine has. The bodies are plain loops the compiler vectorises; reductions keep
//! 16 independent lanes because float additions are not reassociated otherwise.

// The only unsafe here: calling a `#[target_feature]` function after checking that the CPU has
// those features.
#![allow(unsafe_code)]

use super::math::{exp, gelu_erf, gelu_tanh};
use crate::config::Activation;

/// Defines `fn $name(args)` that runs `$body` compiled for the best instruction set of this CPU.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        // The unsafe calls below are sound wherever this expands (they check the CPU first).
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                fn v4($($arg: $ty),*) { body($($arg),*) }
                #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                fn v3($($arg: $ty),*) { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled for (checked above;
                    // AVX-512 implies AVX2, FMA, BMI and the rest on every CPU that has it).
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("bmi1")
                    && std::arch::is_x86_feature_detected!("bmi2")
                    && std::arch::is_x86_feature_detected!("lzcnt")
                    && std::arch::is_x86_feature_detected!("popcnt")
                {
                    // SAFETY: the CPU has every feature `v3` is compiled for (checked above).
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use multiversion;

const LANES: usize = 16;

/// Sum of `f(x)` over `xs`, in 16 lanes so that it vectorises.
#[inline(always)]
fn sum_by(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += f(x);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The largest `f(x)` over `xs` (NaN-free), in 16 lanes so that it vectorises.
#[inline(always)]
pub(super) fn max_by(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .map(|&x| f(x))
        .fold(f32::NEG_INFINITY, f32::max);
    // A comparison rather than `f32::max`, whose NaN rule keeps the loop scalar.
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            let v = f(x);
            *l = if v > *l { v } else { *l };
        }
    }
    lanes.iter().copied().fold(tail, f32::max)
}

/// A layer norm's parameters.
pub struct Norm<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

multiversion! {
    /// Row by row: `x = LayerNorm(x + add + bias)` over `dim = bias.len()` columns. Row `r` of
    /// `add` starts at `r * add_row_stride` (0 adds the same row to every row of `x`).
    pub fn add_layer_norm(x: &mut [f32], add: &[f32], add_row_stride: usize, bias: &[f32], norm: &Norm<'_>) {
        let dim = bias.len();
        let inv_dim = 1.0 / dim as f32;
        for (r, row) in x.chunks_exact_mut(dim).enumerate() {
            let add = &add[r * add_row_stride..r * add_row_stride + dim];
            for ((v, &a), &b) in row.iter_mut().zip(add).zip(bias) {
                *v += a + b;
            }
            let mean = sum_by(row, |v| v) * inv_dim;
            let var = sum_by(row, |v| (v - mean) * (v - mean)) * inv_dim;
            let inv_std = 1.0 / (var + norm.eps).sqrt();
            for ((v, &g), &b) in row.iter_mut().zip(norm.gamma).zip(norm.beta) {
                *v = (*v - mean) * inv_std * g + b;
            }
        }
    }
}

multiversion! {
    /// Row by row: `x = activation(x + bias)`, `x` is `[rows, bias.len()]`.
    pub fn bias_activation(x: &mut [f32], bias: &[f32], activation: Activation) {
        for row in x.chunks_exact_mut(bias.len()) {
            match activation {
                Activation::GeluErf => row.iter_mut().zip(bias).for_each(|(v, &b)| *v = gelu_erf(*v + b)),
                Activation::GeluTanh => row.iter_mut().zip(bias).for_each(|(v, &b)| *v = gelu_tanh(*v + b)),
                Activation::Relu => row.iter_mut().zip(bias).for_each(|(v, &b)| *v = (*v + b).max(0.0)),
            }
        }
    }
}

multiversion! {
    /// Row by row: `x = x + bias`, `x` is `[rows, bias.len()]`.
    pub fn add_bias(x: &mut [f32], bias: &[f32]) {
        for row in x.chunks_exact_mut(bias.len()) {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
        }
    }
}

multiversion! {
    /// Softmax of every row of `x` (`[rows, row_len]`), in place, but for its division: each
    /// row holds `exp(v - max)` and `inv_sums` (one per row) the factor that makes it sum to 1,
    /// for the caller to apply to the far smaller product of the row.
    pub fn softmax_rows_unscaled(x: &mut [f32], row_len: usize, inv_sums: &mut [f32]) {
        for (row, inv) in x.chunks_exact_mut(row_len).zip(inv_sums.iter_mut()) {
            let max = max_by(row, |v| v);
            // exp and its sum in one pass, 16 lanes so that it vectorises.
            let mut lanes = [0f32; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            for c in &mut chunks {
                for (l, v) in lanes.iter_mut().zip(c.iter_mut()) {
                    *v = exp(*v - max);
                    *l += *v;
                }
            }
            let mut tail = 0f32;
            for v in chunks.into_remainder() {
                *v = exp(*v - max);
                tail += *v;
            }
            *inv = 1.0 / (lanes.iter().sum::<f32>() + tail);
        }
    }
}

multiversion! {
    /// Row by row: `x[r] *= factors[r]`, `x` is `[rows, row_len]` with rows `row_stride` apart.
    pub fn scale_rows(x: &mut [f32], row_len: usize, row_stride: usize, factors: &[f32]) {
        for (r, &f) in factors.iter().enumerate() {
            x[r * row_stride..r * row_stride + row_len].iter_mut().for_each(|v| *v *= f);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "element {i}: {x} vs {y}");
        }
    }

    /// Pseudo-random values in [-2, 2).
    pub(in crate::cpu) fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn layer_norm_matches_the_definition() {
        let dim = 37; // not a multiple of the lanes: the tails count
        let mut x = pseudo_random(3 * dim, 1);
        let add = pseudo_random(3 * dim, 2);
        let bias = pseudo_random(dim, 3);
        let gamma = pseudo_random(dim, 4);
        let beta = pseudo_random(dim, 5);
        let mut want = Vec::new();
        for r in 0..3 {
            let row: Vec<f64> = (0..dim)
                .map(|c| f64::from(x[r * dim + c] + add[r * dim + c] + bias[c]))
                .collect();
            let mean = row.iter().sum::<f64>() / dim as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / dim as f64;
            want.extend(row.iter().enumerate().map(|(c, v)| {
                ((v - mean) / (var + 1e-12).sqrt() * f64::from(gamma[c]) + f64::from(beta[c]))
                    as f32
            }));
        }
        let norm = Norm {
            gamma: &gamma,
            beta: &beta,
            eps: 1e-12,
        };
        add_layer_norm(&mut x, &add, dim, &bias, &norm);
        close(&x, &want, 1e-5);

        // A broadcast `add` (row stride 0) is the same row added to every row.
        let mut y = pseudo_random(2 * dim, 6);
        let mut y2 = y.clone();
        let one = pseudo_random(dim, 7);
        add_layer_norm(&mut y, &one, 0, &bias, &norm);
        let two: Vec<f32> = one.iter().chain(&one).copied().collect();
        add_layer_norm(&mut y2, &two, dim, &bias, &norm);
        assert_eq!(y, y2);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut x = pseudo_random(5 * 19, 8);
        x[3] = 80.0; // large values do not overflow
        let before = x.clone();
        let mut inv = vec![0f32; 5];
        softmax_rows_unscaled(&mut x, 19, &mut inv);
        scale_rows(&mut x, 19, 19, &inv);
        for (row, src) in x.chunks(19).zip(before.chunks(19)) {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
            let max = src.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let want: Vec<f32> = src
                .iter()
                .map(|v| ((v - max) as f64).exp() as f32)
                .collect();
            let total: f32 = want.iter().sum();
            let want: Vec<f32> = want.iter().map(|v| v / total).collect();
            close(row, &want, 1e-6);
        }
    }

    #[test]
    fn bias_and_activations() {
        let mut x = vec![-1.0f32, 0.0, 1.0, 2.0];
        bias_activation(&mut x, &[0.5, -0.5], Activation::Relu);
        assert_eq!(x, vec![0.0, 0.0, 1.5, 1.5]);
        let mut g = vec![0.0f32, 1.0, -3.0];
        bias_activation(&mut g, &[0.0, 0.0, 0.0], Activation::GeluErf);
        close(&g, &[0.0, 0.841_344_7, -0.004_049_9], 1e-6);
        let mut t = vec![1.0f32];
        bias_activation(&mut t, &[0.0], Activation::GeluTanh);
        close(&t, &[0.841_192], 1e-5);
        let mut b = vec![1.0f32, 2.0, 3.0, 4.0];
        add_bias(&mut b, &[10.0, 20.0]);
        assert_eq!(b, vec![11.0, 22.0, 13.0, 24.0]);
    }
}
