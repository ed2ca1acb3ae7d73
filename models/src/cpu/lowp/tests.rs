use super::*;
use crate::cpu::simd::tests::pseudo_random;

fn naive(x: &[f32], w: &[f32], rows: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0f64; rows * n];
    for r in 0..rows {
        for c in 0..n {
            out[r * n + c] = (0..k)
                .map(|i| f64::from(x[r * k + i]) * f64::from(w[i * n + c]))
                .sum();
        }
    }
    out
}

/// The product at `precision` on shapes that pad every dimension (rows, inner, columns) and
/// rows of very different ranges, against f64: the worst error relative to the row's largest
/// exact value, and the worst cosine between an output row and the exact one.
fn errors(precision: Precision) -> Option<(f64, f64)> {
    let Some(packed_probe) = PackedLinear::new(&[0.5], 1, 1, precision) else {
        println!("skipped: this CPU has no {} kernels", precision.name());
        return None;
    };
    drop(packed_probe);
    let (rows, k, n) = (13, 37, 70);
    let mut x = pseudo_random(rows * k, 1);
    // Row 2 holds an outlier, row 3 is all positive (a GELU-like row), row 4 all zeros.
    x[2 * k + 5] = 40.0;
    x[3 * k..4 * k].iter_mut().for_each(|v| *v = v.abs() + 0.1);
    x[4 * k..5 * k].fill(0.0);
    let w = pseudo_random(k * n, 2);
    let packed = PackedLinear::new(&w, k, n, precision)?;
    assert_eq!((packed.inputs(), packed.outputs()), (k, n));
    let mut out = vec![f32::NAN; rows * n];
    let mut scratch = LowpScratch::default();
    // Twice through the same scratch: what the first product left there must not leak.
    project(&mut out, &x, rows, &packed, &mut scratch);
    project(&mut out, &x, rows, &packed, &mut scratch);
    let want = naive(&x, &w, rows, k, n);
    let (mut worst_rel, mut worst_cos) = (0f64, 1f64);
    for r in 0..rows {
        let got = &out[r * n..(r + 1) * n];
        let exact = &want[r * n..(r + 1) * n];
        let scale = exact.iter().fold(0f64, |m, v| m.max(v.abs()));
        if scale == 0.0 {
            assert!(
                got.iter().all(|&v| v == 0.0),
                "zero row {r} stays zero: {got:?}"
            );
            continue;
        }
        let (mut dot, mut gg, mut ee) = (0f64, 0f64, 0f64);
        for (&g, &e) in got.iter().zip(exact) {
            assert!(g.is_finite(), "row {r}: {g}");
            worst_rel = worst_rel.max((f64::from(g) - e).abs() / scale);
            dot += f64::from(g) * e;
            gg += f64::from(g) * f64::from(g);
            ee += e * e;
        }
        worst_cos = worst_cos.min(dot / (gg.sqrt() * ee.sqrt()));
    }
    println!(
        "{}: worst error {worst_rel:.2e} of the row's largest value, worst cosine {worst_cos:.6}",
        precision.name()
    );
    Some((worst_rel, worst_cos))
}

#[test]
fn bf16_products_match_f64() {
    if let Some((rel, cos)) = errors(Precision::Bf16) {
        assert!(rel < 2e-2, "{rel}");
        assert!(cos > 0.9999, "{cos}");
    }
}

#[test]
fn int8_products_match_f64() {
    if let Some((rel, cos)) = errors(Precision::Int8) {
        assert!(rel < 5e-2, "{rel}");
        assert!(cos > 0.999, "{cos}");
    }
}

#[test]
fn bytes_round_to_nearest_even_and_clamp() {
    let round = activations::round_to_byte;
    assert_eq!(
        [round(0.4), round(0.5), round(1.5), round(2.5), round(254.6)],
        [0, 0, 2, 2, 255]
    );
    assert_eq!([round(-3.0), round(300.0), round(255.0)], [0, 255, 255]);
}

#[test]
fn bf16_rounds_to_nearest_even() {
    assert_eq!(activations::bf16_bits(1.0), 0x3f80);
    // 1 + 2^-8 lies halfway between two bf16 values: ties go to the even one (1.0).
    assert_eq!(activations::bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
    assert_eq!(activations::bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
    assert_eq!(activations::bf16_bits(-2.0), 0xc000);
}

#[test]
fn auto_picks_what_the_cpu_has_and_explicit_choices_are_checked() {
    let auto = EmbedPrecision::Auto
        .resolve()
        .expect("auto always resolves");
    assert!(auto.supported());
    assert_eq!(EmbedPrecision::F32.resolve().ok(), Some(Precision::F32));
    for (asked, p) in [
        (EmbedPrecision::Bf16, Precision::Bf16),
        (EmbedPrecision::Int8, Precision::Int8),
    ] {
        match asked.resolve() {
            Ok(got) => assert_eq!(got, p),
            Err(e) => {
                assert!(!p.supported());
                assert!(e.to_string().contains(p.name()), "{e}");
            }
        }
    }
}
