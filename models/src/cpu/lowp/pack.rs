//! Weights quantised and packed once, when the model loads: bf16 (round to nearest even), or
//! int8 with one symmetric scale per output column, and each column's sum of quantised weights
//! (for the activations' zero points).

use super::Precision;
use super::activations::bf16_bits;
use super::kernels::{Kernel, NR, Panels};

pub struct PackedBf16 {
    pub panels: Panels<u16>,
    pub kernel: Kernel<u16>,
}

pub struct PackedInt8 {
    /// The signed weights' bytes.
    pub panels: Panels<u8>,
    /// Per output column: the weight that the quantised value 1 stands for.
    pub scales: Vec<f32>,
    /// Per output column: the sum of its quantised weights.
    pub colsums: Vec<i32>,
    pub kernel: Kernel<u8>,
}

/// A linear layer's weights for the low-precision kernels.
pub enum PackedLinear {
    Bf16(PackedBf16),
    Int8(PackedInt8),
}

impl PackedLinear {
    /// Packs `weight_t` (`[inputs, outputs]`, row-major) for `precision`; `None` for f32 or a CPU
    /// without that precision's instructions.
    pub fn new(
        weight_t: &[f32],
        inputs: usize,
        outputs: usize,
        precision: Precision,
    ) -> Option<Self> {
        assert_eq!(weight_t.len(), inputs * outputs, "weight shape");
        let at = |k: usize, col: usize| weight_t[k * outputs + col];
        match precision {
            Precision::F32 => None,
            Precision::Bf16 => Some(PackedLinear::Bf16(PackedBf16 {
                kernel: Kernel::bf16()?,
                panels: pack(inputs, outputs, |k, col| bf16_bits(at(k, col))),
            })),
            Precision::Int8 => {
                let kernel = Kernel::int8()?;
                let scales: Vec<f32> = (0..outputs)
                    .map(|col| {
                        let max = (0..inputs).map(|k| at(k, col).abs()).fold(0f32, f32::max);
                        if max > 0.0 { max / 127.0 } else { 1.0 }
                    })
                    .collect();
                // `[inputs, outputs]` like `weight_t`, quantised once for the sums and the panels.
                let quantised: Vec<i8> = weight_t
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| {
                        (w / scales[i % outputs])
                            .round_ties_even()
                            .clamp(-127.0, 127.0) as i8
                    })
                    .collect();
                let q = |k: usize, col: usize| quantised[k * outputs + col];
                let colsums = (0..outputs)
                    .map(|col| (0..inputs).map(|k| i32::from(q(k, col))).sum())
                    .collect();
                Some(PackedLinear::Int8(PackedInt8 {
                    panels: pack(inputs, outputs, |k, col| q(k, col) as u8),
                    scales,
                    colsums,
                    kernel,
                }))
            }
        }
    }

    pub fn inputs(&self) -> usize {
        match self {
            PackedLinear::Bf16(p) => p.panels.inputs,
            PackedLinear::Int8(p) => p.panels.inputs,
        }
    }

    pub fn outputs(&self) -> usize {
        match self {
            PackedLinear::Bf16(p) => p.panels.outputs,
            PackedLinear::Int8(p) => p.panels.outputs,
        }
    }
}

/// The panels of `value(k, col)`, zero outside `[inputs, outputs]`.
fn pack<E: Copy + Default>(
    inputs: usize,
    outputs: usize,
    value: impl Fn(usize, usize) -> E,
) -> Panels<E> {
    let group = Panels::<E>::GROUP;
    let groups = inputs.div_ceil(group);
    let panels = outputs.div_ceil(NR);
    let mut data = vec![E::default(); panels * groups * NR * group];
    for panel in 0..panels {
        for g in 0..groups {
            for c in 0..NR {
                let col = panel * NR + c;
                for e in 0..group {
                    let k = g * group + e;
                    if col < outputs && k < inputs {
                        data[((panel * groups + g) * NR + c) * group + e] = value(k, col);
                    }
                }
            }
        }
    }
    Panels {
        data,
        inputs,
        outputs,
        groups,
    }
}
