//! docfleet's own CPU encoder for BERT-family models: the same arithmetic as the candle encoder
//! (`candle_encoder.rs`) on plain buffers, built for throughput on a few cores.
//!
//! - No padding: a batch's texts are packed token after token, attention keeps to each text.
//! - One batch per thread, single-threaded products (the `gemm` crate's kernels): with 2 cores,
//!   two batches at once beat every product split in two (no start-up or barrier per product).
//! - Linear layers at bf16 or int8 on the CPU's dot-product units when it has them (`lowp/`),
//!   f32 through the `gemm` crate otherwise or on request.
//! - Fused element-wise steps (bias + GELU, residual + bias + layer norm, softmax), vectorised
//!   for AVX-512 or AVX2 as the CPU allows, and scratch buffers reused across batches, so
//!   nothing is allocated per operation.

mod attention;
mod encoder;
mod lowp;
mod math;
mod matmul;
mod simd;
mod weights;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use encoder::{Workspace, embed_batch};
use weights::CpuWeights;

pub use lowp::{EmbedPrecision, Precision};

/// The first `len` elements of a scratch `buffer`, grown (never shrunk) to hold them; what an
/// earlier batch left there is kept, not zeroed.
fn grown<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
    &mut buffer[..len]
}

/// The unit vectors of one batch's texts.
type BatchVectors = Vec<Vec<f32>>;

pub struct CpuBert {
    weights: CpuWeights,
    config: ModelConfig,
    threads: usize,
    precision: Precision,
    /// One per thread that has run a batch; taken for a batch, put back after.
    workspaces: Mutex<Vec<Workspace>>,
}

impl CpuBert {
    /// Loads `model.safetensors`; batches will run on up to `threads` threads, the linear
    /// layers at `precision` (an error when the CPU lacks its instructions).
    pub fn load(
        path: &Path,
        config: &ModelConfig,
        threads: usize,
        precision: EmbedPrecision,
    ) -> Result<Self> {
        let precision = precision.resolve()?;
        let tensors = crate::weights::BertWeights::load(path, config, &candle_core::Device::Cpu)?;
        Ok(Self {
            weights: CpuWeights::new(tensors, precision)?,
            config: config.clone(),
            threads: threads.max(1),
            precision,
            workspaces: Mutex::new(Vec::new()),
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The vectors of every batch (texts as token ids), in order, the batches spread over the
    /// threads.
    pub fn embed_batches(&self, batches: &[Vec<&[u32]>]) -> Result<Vec<BatchVectors>> {
        let threads = self.threads.min(batches.len());
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Result<BatchVectors>>>> =
            batches.iter().map(|_| Mutex::new(None)).collect();
        let work = || {
            let mut ws = self.take_workspace();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(i) else { break };
                let vectors = embed_batch(&self.weights, &self.config, batch, &mut ws);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(vectors);
            }
            self.workspaces
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(ws);
        };
        if threads <= 1 {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(work);
                }
                work();
            });
        }
        results
            .into_iter()
            .map(|r| {
                r.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(|| Err(Error::Device("a batch was not run".into())))
            })
            .collect()
    }

    fn take_workspace(&self) -> Workspace {
        self.workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }
}

/// GFLOP/s of `threads` threads each multiplying `n`×`n` matrices on its own (as the encoder's
/// threads do), for at least `min_secs` after a warm-up product.
pub fn matmul_peak_gflops(threads: usize, n: usize, min_secs: f64) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect();
    let one = || {
        let mut c = vec![0f32; n * n];
        let product = |c: &mut Vec<f32>| {
            matmul::matmul(
                matmul::MatMut::rows(c, n, n, n),
                matmul::Mat::rows(&a, n, n, n),
                matmul::Mat::rows(&a, n, n, n),
                false,
            )
        };
        product(&mut c);
        let started = Instant::now();
        let mut products = 0u32;
        while products == 0 || started.elapsed().as_secs_f64() < min_secs {
            product(&mut c);
            products += 1;
        }
        2.0 * (n as f64).powi(3) * f64::from(products) / started.elapsed().as_secs_f64() / 1e9
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads.max(1)).map(|_| scope.spawn(one)).collect();
        let mine = one();
        mine + others
            .into_iter()
            .map(|h| h.join().unwrap_or(0.0))
            .sum::<f64>()
    })
}
