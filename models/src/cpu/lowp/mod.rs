//! Low-precision matrix products for the encoder's linear layers, on the CPU's dot-product units:
//! AVX512-BF16 (`vdpbf16ps`: 32 multiply-adds per instruction, twice f32's FMA) and AVX512-VNNI
//! (`vpdpbusd`: 64 byte multiply-adds, four times). Weights are quantised once at load, packed
//! into column panels (`pack.rs`); activations are converted per product (`activations.rs`), int8
//! with a scale and zero point per row (dynamic quantisation), weights with a scale per output
//! column. The micro-kernels (`kernels.rs`) are chosen only on a CPU that has the instructions.

mod activations;
mod kernels;
mod pack;

#[cfg(test)]
mod tests;

pub use activations::LowpScratch;
pub use pack::PackedLinear;

use crate::error::{Error, Result};

/// The arithmetic of the encoder's linear layers, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbedPrecision {
    /// The fastest this CPU has: int8 with AVX512-VNNI, else bf16 with AVX512-BF16, else f32.
    #[default]
    Auto,
    F32,
    Bf16,
    Int8,
}

/// The arithmetic the encoder's linear layers run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    Bf16,
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }

    /// Whether this CPU has the instructions of this precision's kernels.
    pub fn supported(self) -> bool {
        match self {
            Precision::F32 => true,
            Precision::Bf16 => kernels::has_bf16(),
            Precision::Int8 => kernels::has_vnni(),
        }
    }
}

impl EmbedPrecision {
    /// The precision to run: `Auto` picks from the CPU; an explicit low precision the CPU lacks
    /// is an error, not a silent fall-back.
    pub fn resolve(self) -> Result<Precision> {
        let wanted = match self {
            EmbedPrecision::Auto => {
                return Ok([Precision::Int8, Precision::Bf16]
                    .into_iter()
                    .find(|p| p.supported())
                    .unwrap_or(Precision::F32));
            }
            EmbedPrecision::F32 => Precision::F32,
            EmbedPrecision::Bf16 => Precision::Bf16,
            EmbedPrecision::Int8 => Precision::Int8,
        };
        if wanted.supported() {
            Ok(wanted)
        } else {
            Err(Error::Device(format!(
                "embed precision {} needs {} on this CPU, which it does not have; use auto or f32",
                wanted.name(),
                match wanted {
                    Precision::Bf16 => "AVX512-BF16",
                    _ => "AVX512-VNNI",
                }
            )))
        }
    }
}

/// `out[rows, n] = x[rows, k] · W` with `W` packed at low precision; `out` rows are `n` apart.
pub fn project(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    w: &PackedLinear,
    scratch: &mut LowpScratch,
) {
    assert_eq!(x.len(), rows * w.inputs(), "input shape");
    assert_eq!(out.len(), rows * w.outputs(), "output shape");
    match w {
        PackedLinear::Bf16(p) => {
            let a = scratch.bf16_rows(x, rows, p.panels.inputs, p.panels.row_len());
            kernels::product(p.kernel, out, a, &p.panels, None);
        }
        PackedLinear::Int8(p) => {
            let a = scratch.int8_rows(x, rows, p.panels.inputs, p.panels.row_len());
            let dequantise = kernels::Dequantise {
                row_scales: &a.scales,
                row_zeros: &a.zeros,
                col_sums: &p.colsums,
                col_scales: &p.scales,
            };
            kernels::product(p.kernel, out, &a.rows, &p.panels, Some(&dequantise));
        }
    }
}
