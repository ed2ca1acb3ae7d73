//! Matrix products on plain `f32` buffers through the `gemm` crate (the kernels candle itself
//! uses on the CPU, AVX-512 or AVX2 picked at run time), on the calling thread: the encoder runs
//! one batch per thread, so no product pays for thread start-up and synchronisation.

// The only unsafe here: `gemm::gemm` takes raw pointers and strides; every view is bounds-checked
// against its slice first, and `&`/`&mut` borrows rule out aliasing of the output.
#![allow(unsafe_code)]

/// A strided matrix view: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// Row-major `[rows, cols]` whose rows are `row_stride` apart (≥ `cols`).
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        let m = Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        };
        m.check(data.len());
        m
    }

    /// The transpose of this view (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn check(&self, len: usize) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
            assert!(last < len, "matrix view out of bounds: {last} >= {len}");
        }
    }
}

/// A row-major output view, rows `row_stride` apart.
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> MatMut<'a> {
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        let m = Self {
            data,
            rows,
            cols,
            row_stride,
        };
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + cols - 1;
            assert!(last < m.data.len(), "output view out of bounds");
        }
        m
    }
}

/// `dst = a · b`, or `dst += a · b` with `accumulate`.
pub fn matmul(dst: MatMut<'_>, a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert_eq!((dst.rows, dst.cols), (a.rows, b.cols), "output shape");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst.data[r * dst.row_stride..r * dst.row_stride + n].fill(0.0);
            }
        }
        return;
    }
    let stride = |s: usize| s as isize;
    // SAFETY: the three views were bounds-checked when made (every index gemm touches lies below
    // the checked last element), `dst` is borrowed mutably so it aliases neither input, and gemm
    // writes only `dst`. `alpha` (the factor of the old `dst`) is only read when `read_dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            stride(dst.row_stride),
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_transposes_strides_and_accumulation() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 11) as f32 - 5.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5).collect();
        let want = naive(&a, &b, m, k, n);

        let mut c = vec![0f32; m * n];
        matmul(
            MatMut::rows(&mut c, m, n, n),
            Mat::rows(&a, m, k, k),
            Mat::rows(&b, k, n, n),
            false,
        );
        assert_eq!(c, want);

        // b stored transposed ([n, k]) and read through `t()`; output into a wider buffer.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut wide = vec![1f32; m * 4];
        matmul(
            MatMut::rows(&mut wide, m, n, 4),
            Mat::rows(&a, m, k, k),
            Mat::rows(&bt, n, k, k).t(),
            true,
        );
        for i in 0..m {
            for j in 0..n {
                assert_eq!(wide[i * 4 + j], want[i * n + j] + 1.0);
            }
            assert_eq!(wide[i * 4 + 3], 1.0, "column outside the view untouched");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn views_are_bounds_checked() {
        let data = [0f32; 5];
        let _ = Mat::rows(&data, 2, 3, 3);
    }
}
