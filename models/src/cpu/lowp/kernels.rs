//! The micro-kernels and the loop around them. A kernel computes one `MR × NR` tile of the
//! product over the whole inner dimension: per 32-bit group of the inner dimension (2 bf16 or 4
//! int8 values), one broadcast of each of the `MR` activation rows and `NR / 16` loads of the
//! packed weights feed `MR × NR / 16` dot-product instructions into 24 accumulator registers.

// The only unsafe here: the tile functions run only through a `Kernel`, which is made only
// after the CPU was checked for their features, and their raw-pointer accesses stay within the
// bounds `product` asserts once per call.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows of a tile: activation rows are padded to a multiple of this.
pub const MR: usize = 6;
/// Columns of a tile (four 16-lane registers): weight panels are this wide.
pub const NR: usize = 64;
const NV: usize = NR / 16;
/// Rows per block of the loop: their activations (≤ 1536 bytes each) stay in L2 while every
/// panel of weights passes over them.
const MC: usize = 240;

pub fn has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

pub fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Weights in panels of `NR` columns: panel by panel, group by group of the inner dimension,
/// column by column, the group's `4 / size_of::<E>()` values. Columns and the inner dimension
/// are zero-padded.
pub struct Panels<E> {
    pub data: Vec<E>,
    pub inputs: usize,
    pub outputs: usize,
    /// 32-bit groups of the inner dimension.
    pub groups: usize,
}

impl<E> Panels<E> {
    /// Values in one group of the inner dimension.
    pub const GROUP: usize = 4 / size_of::<E>();

    /// Padded length of an activation row.
    pub fn row_len(&self) -> usize {
        self.groups * Self::GROUP
    }

    fn panels(&self) -> usize {
        self.outputs.div_ceil(NR)
    }
}

/// Where a tile's results go, and (int8) how accumulators become floats: for output row `r` and
/// column `c`, `(acc - row_zero[r] * col_sum[c]) * row_scale[r] * col_scale[c]`.
pub struct TileOut {
    /// The tile's first output element; rows `stride` apart.
    out: *mut f32,
    stride: usize,
    /// Rows and columns of the tile inside the output (≤ `MR`, ≤ `NR`).
    rows: usize,
    cols: usize,
    row_scale: *const f32,
    row_zero: *const i32,
    col_sum: *const i32,
    col_scale: *const f32,
}

/// The int8 epilogue's per-row and per-column factors, for the whole product.
pub struct Dequantise<'a> {
    pub row_scales: &'a [f32],
    pub row_zeros: &'a [i32],
    pub col_sums: &'a [i32],
    pub col_scales: &'a [f32],
}

/// `(activations, row stride, panel, groups, out)`: one `MR × NR` tile.
type TileFn<E> = unsafe fn(*const E, usize, *const E, usize, &TileOut);

/// A kernel and the CPU check that makes it safe to call.
pub struct Kernel<E> {
    tile: TileFn<E>,
    /// Whether its epilogue reads the int8 factors (`TileOut`'s pointers): `product` then
    /// insists on them.
    dequantises: bool,
}

impl Kernel<u16> {
    pub fn bf16() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if has_bf16() {
            return Some(Self {
                tile: tile_bf16,
                dequantises: false,
            });
        }
        None
    }
}

impl Kernel<u8> {
    pub fn int8() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if has_vnni() {
            return Some(Self {
                tile: tile_int8,
                dequantises: true,
            });
        }
        None
    }
}

impl<E> Clone for Kernel<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Kernel<E> {}

/// `out[rows, outputs] = a · W`, tile by tile. `a` holds the activation rows, padded to a
/// multiple of `MR` rows of `w.row_len()` values. The int8 kernel needs `dequantise`, the bf16
/// one takes none.
pub fn product<E: Copy>(
    kernel: Kernel<E>,
    out: &mut [f32],
    a: &[E],
    w: &Panels<E>,
    dequantise: Option<&Dequantise<'_>>,
) {
    let (n, stride, groups) = (w.outputs, w.row_len(), w.groups);
    let rows = out.len() / n.max(1);
    assert_eq!(out.len(), rows * n, "output shape");
    let padded = rows.div_ceil(MR) * MR;
    assert!(
        a.len() >= padded * stride,
        "activations shorter than their padded rows"
    );
    let panel_len = groups * NR * Panels::<E>::GROUP;
    assert!(
        w.data.len() >= w.panels() * panel_len,
        "weights shorter than their panels"
    );
    assert_eq!(
        dequantise.is_some(),
        kernel.dequantises,
        "int8 kernels need their factors, bf16 ones take none"
    );
    if let Some(d) = dequantise {
        assert!(
            d.row_scales.len() >= rows && d.row_zeros.len() >= rows,
            "row factors"
        );
        assert!(
            d.col_sums.len() >= n && d.col_scales.len() >= n,
            "column factors"
        );
    }
    let null: ((*const f32, *const i32), (*const i32, *const f32)) = (
        (std::ptr::null(), std::ptr::null()),
        (std::ptr::null(), std::ptr::null()),
    );
    for block in (0..padded).step_by(MC) {
        for panel in 0..w.panels() {
            let b = w.data[panel * panel_len..].as_ptr();
            let first_col = panel * NR;
            for r0 in (block..padded.min(block + MC)).step_by(MR) {
                let tile_rows = MR.min(rows.saturating_sub(r0));
                if tile_rows == 0 {
                    break;
                }
                let ((row_scale, row_zero), (col_sum, col_scale)) = match dequantise {
                    Some(d) => (
                        (d.row_scales[r0..].as_ptr(), d.row_zeros[r0..].as_ptr()),
                        (
                            d.col_sums[first_col..].as_ptr(),
                            d.col_scales[first_col..].as_ptr(),
                        ),
                    ),
                    None => null,
                };
                let tile = TileOut {
                    out: out[r0 * n + first_col..].as_mut_ptr(),
                    stride: n,
                    rows: tile_rows,
                    cols: NR.min(n - first_col),
                    row_scale,
                    row_zero,
                    col_sum,
                    col_scale,
                };
                // SAFETY: the kernel exists only on a CPU with its features; it reads `MR` rows
                // of `stride` values from `a` at row `r0` (< `padded`, checked above) and
                // `groups` groups of one panel (checked above), and writes `tile.rows` rows of
                // `tile.cols` values inside `out` (row `r0 + tile.rows - 1` < `rows`), reading
                // the factors of those rows and columns (checked above; int8 only).
                unsafe { (kernel.tile)(a[r0 * stride..].as_ptr(), stride, b, groups, &tile) };
            }
        }
    }
}

/// The mask of the first `cols - 16 * c` lanes of the `c`-th register of a tile row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane_mask(cols: usize, c: usize) -> __mmask16 {
    let lanes = cols.saturating_sub(16 * c).min(16);
    ((1u32 << lanes) - 1) as __mmask16
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn tile_bf16(a: *const u16, stride: usize, b: *const u16, groups: usize, out: &TileOut) {
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    for g in 0..groups {
        // SAFETY (all reads here): within the bounds `product` checked.
        let bp = unsafe { b.add(g * NR * 2) };
        let mut bv = [_mm512_setzero_si512(); NV];
        for (c, v) in bv.iter_mut().enumerate() {
            *v = unsafe { _mm512_loadu_si512(bp.add(c * 32).cast()) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let pair = unsafe { a.add(r * stride + g * 2).cast::<i32>().read_unaligned() };
            let av: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(pair)) };
            for (c, acc) in row.iter_mut().enumerate() {
                let w: __m512bh = unsafe { std::mem::transmute(bv[c]) };
                *acc = _mm512_dpbf16_ps(*acc, av, w);
            }
        }
    }
    for (r, row) in acc.iter().enumerate().take(out.rows) {
        for (c, v) in row.iter().enumerate() {
            // SAFETY: inside the tile's rows and (masked) columns of the output.
            unsafe {
                _mm512_mask_storeu_ps(
                    out.out.add(r * out.stride + c * 16),
                    lane_mask(out.cols, c),
                    *v,
                )
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_int8(a: *const u8, stride: usize, b: *const u8, groups: usize, out: &TileOut) {
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    for g in 0..groups {
        // SAFETY (all reads here): within the bounds `product` checked.
        let bp = unsafe { b.add(g * NR * 4) };
        let mut bv = [_mm512_setzero_si512(); NV];
        for (c, v) in bv.iter_mut().enumerate() {
            *v = unsafe { _mm512_loadu_si512(bp.add(c * 64).cast()) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let quad = unsafe { a.add(r * stride + g * 4).cast::<i32>().read_unaligned() };
            let av = _mm512_set1_epi32(quad);
            for (c, acc) in row.iter_mut().enumerate() {
                // Unsigned activations times signed weights, four products per lane.
                *acc = _mm512_dpbusd_epi32(*acc, av, bv[c]);
            }
        }
    }
    for (r, row) in acc.iter().enumerate().take(out.rows) {
        // SAFETY (all accesses here): the factors of the tile's rows and (masked) columns, and
        // the output inside the tile.
        let zero = _mm512_set1_epi32(unsafe { *out.row_zero.add(r) });
        let scale = _mm512_set1_ps(unsafe { *out.row_scale.add(r) });
        for (c, v) in row.iter().enumerate() {
            let mask = lane_mask(out.cols, c);
            let sums = unsafe { _mm512_maskz_loadu_epi32(mask, out.col_sum.add(c * 16)) };
            let col_scales = unsafe { _mm512_maskz_loadu_ps(mask, out.col_scale.add(c * 16)) };
            let exact = _mm512_sub_epi32(*v, _mm512_mullo_epi32(zero, sums));
            let value = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(scale, col_scales));
            unsafe { _mm512_mask_storeu_ps(out.out.add(r * out.stride + c * 16), mask, value) };
        }
    }
}
