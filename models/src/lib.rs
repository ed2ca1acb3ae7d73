//! Embedding model backends for docfleet.
//!
//! The [`Embedder`] seam is synchronous on purpose: the worker drives it from a dedicated thread
//! and batches texts across jobs by a token budget. On the CPU the model runs on docfleet's own
//! encoder (`cpu/`: unpadded batches, one per core, fused vectorised kernels); on an NVIDIA GPU
//! (built with the `cuda` feature, a GPU present) on candle's tensors (`candle_encoder.rs`).

mod candle_encoder;
mod config;
mod cpu;
mod device;
mod embedder;
mod error;
mod flops;
mod pooling;
mod tokenize;
mod weights;

pub use config::{Activation, ModelConfig, Pooling};
pub use cpu::{EmbedPrecision, Precision};
pub use device::DeviceChoice;
pub use embedder::{Backend, BertEmbedder, EmbedderOptions};
pub use error::{Error, Result};
pub use flops::matmul_peak_gflops;
pub use tokenize::load_tokenizer;

/// Turns texts into L2-normalised vectors.
pub trait Embedder: Send + Sync {
    /// One vector per text, in input order, each of [`Embedder::dims`] floats with unit norm.
    /// Texts longer than [`Embedder::max_tokens`] are truncated.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Vector dimension.
    fn dims(&self) -> usize;
    /// Longest input in tokens, special tokens included.
    fn max_tokens(&self) -> usize;
    /// A stable name for the model, stored with every vector (e.g. the model folder's name).
    fn model_id(&self) -> &str;
}

use std::path::PathBuf;

pub const CACHE_DIR_ENV: &str = "DOCFLEET_CACHE_DIR";

/// docfleet's cache folder: `$DOCFLEET_CACHE_DIR`, else `$XDG_CACHE_HOME/docfleet`, else
/// `~/.cache/docfleet`. `scripts/setup` installs libpdfium and the default model there.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("docfleet")
}

/// The model folder used when none is configured: `$DOCFLEET_MODEL_DIR`, else the one
/// `scripts/setup` installs (all-MiniLM-L6-v2 under [`cache_dir`]).
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("DOCFLEET_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("models").join("all-MiniLM-L6-v2"))
}
