//! Scalar math for the CPU kernels: `exp`, `erf` and GELU, branch-free so that the loops calling
//! them vectorise (libm's scalar calls would not), accurate to a few ulp. Polynomials use
//! `mul_add`: one FMA instruction in the kernels' AVX2 and AVX-512 builds (Rust never fuses
//! `a * b + c` itself); only the baseline build, for CPUs without FMA, pays a library call.

/// `e^x` (Cephes `expf`: relative error about 1e-7), branch-free so loops vectorise. Inputs are
/// clamped to the normal range: below about -87.3 it returns about 1e-38 instead of 0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let k = x * LOG2E + ROUND;
    let n = k - ROUND;
    // The low mantissa bits of `k` hold n (two's complement): 2^n without a float-int cast.
    let n_int = k.to_bits().wrapping_sub(ROUND.to_bits());
    let r = n.mul_add(2.121_944_4e-4, n.mul_add(-0.693_359_4, x));
    let mut p = 1.987_569_1e-4_f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = (p * r).mul_add(r, r + 1.0);
    y * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * t
        .mul_add(1.061_405_4, -1.453_152)
        .mul_add(t, 1.421_413_8)
        .mul_add(t, -0.284_496_74)
        .mul_add(t, 0.254_829_6);
    let y = (-poly).mul_add(exp(-a * a), 1.0);
    y.copysign(x)
}

/// Exact GELU, `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU, tanh approximation, with `tanh(u) = 1 - 2 / (e^{2u} + 1)`.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
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
}
