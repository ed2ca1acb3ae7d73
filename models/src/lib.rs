//! Embedding model backends for docfleet.
//!
//! The [`Embedder`] seam is synchronous on purpose: the worker drives it from a dedicated thread
//! and batches texts across jobs by a token budget. The candle BERT backend runs on CPU, or on an
//! NVIDIA GPU when built with the `cuda` feature and a GPU is present.

mod error;

pub use error::{Error, Result};

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
