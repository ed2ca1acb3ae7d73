//! Loading the model's `tokenizer.json` with the padding and truncation we want, not the file's.

use std::path::{Path, PathBuf};

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

/// `model_dir/name`, or a [`Error::ModelFiles`] saying what is missing and how to get it.
pub(crate) fn require_file(model_dir: &Path, name: &str) -> Result<PathBuf> {
    if !model_dir.is_dir() {
        return Err(Error::ModelFiles {
            path: model_dir.display().to_string(),
            message: "folder not found; run ./scripts/setup to install the default model, or \
                      set DOCFLEET_MODEL_DIR to a sentence-transformers model folder"
                .to_owned(),
        });
    }
    let path = model_dir.join(name);
    if !path.is_file() {
        return Err(Error::ModelFiles {
            path: model_dir.display().to_string(),
            message: format!(
                "{name} is missing; run ./scripts/setup to reinstall the default model, or set \
                 DOCFLEET_MODEL_DIR to a complete sentence-transformers model folder"
            ),
        });
    }
    Ok(path)
}

/// The model's tokenizer with truncation and padding both disabled, whatever `tokenizer.json`
/// configures: `encode(text, true).len()` is the exact token count, special tokens included.
pub fn load_tokenizer(model_dir: &Path) -> Result<Tokenizer> {
    let path = require_file(model_dir, "tokenizer.json")?;
    let mut tokenizer = Tokenizer::from_file(&path)
        .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// A copy of `tokenizer` that truncates to `max_tokens` (special tokens included, longest first,
/// no stride) and does not pad: the embedder pads each batch itself.
pub(crate) fn truncating(tokenizer: &Tokenizer, max_tokens: usize) -> Result<Tokenizer> {
    let mut tokenizer = tokenizer.clone();
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}
