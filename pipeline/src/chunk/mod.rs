//! The chunk lane: pages in, token-bounded chunks out.
//!
//! [`TokenChunker`] counts with the embedding model's own tokenizer, so a chunk never holds more
//! tokens than the model reads (`max_tokens`, special tokens included). It cuts at the best
//! boundary it can find (blank line > sentence end > whitespace > word boundary; inside a word
//! only when one word is longer than the budget), overlaps consecutive chunks by up to
//! `overlap_tokens` tokens snapped to a word start, and is deterministic: same pages and config,
//! same chunks.

mod assemble;
mod layout;
mod plan;
mod tokens;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::doc::{Chunk, Page};
use crate::error::{Error, Result};

/// Bump when a change to the algorithm changes its output for the same input and config.
const ALGORITHM_VERSION: u32 = 1;

/// Cuts a document's pages into chunks.
pub trait Chunker: Send + Sync {
    fn chunk(&self, pages: &[Page]) -> Result<Vec<Chunk>>;
}

/// How big chunks are and how much consecutive chunks share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkerConfig {
    /// Most tokens in one chunk as the model sees it, special tokens ([CLS], [SEP]) included.
    pub max_tokens: usize,
    /// Tokens a chunk may repeat from the end of the one before (at most; snapped to a word
    /// start, so often fewer).
    pub overlap_tokens: usize,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 32,
        }
    }
}

impl ChunkerConfig {
    /// Checks the config against a tokenizer that adds `special_tokens` tokens to a sequence.
    pub fn validate(&self, special_tokens: usize) -> Result<()> {
        if self.max_tokens <= special_tokens {
            return Err(Error::Chunking(format!(
                "max_tokens ({}) must be greater than the {special_tokens} special tokens the \
                 tokenizer adds to every chunk",
                self.max_tokens
            )));
        }
        let budget = self.max_tokens - special_tokens;
        if self.overlap_tokens >= budget {
            return Err(Error::Chunking(format!(
                "overlap_tokens ({}) must be less than the content budget of {budget} tokens \
                 (max_tokens {} minus {special_tokens} special tokens)",
                self.overlap_tokens, self.max_tokens
            )));
        }
        Ok(())
    }
}

/// The token-aware chunker (see the module docs).
pub struct TokenChunker {
    tokenizer: Tokenizer,
    config: ChunkerConfig,
    special_tokens: usize,
}

impl TokenChunker {
    /// Takes the model's tokenizer; its truncation and padding are turned off on this copy so that
    /// counts are exact.
    pub fn new(mut tokenizer: Tokenizer, config: ChunkerConfig) -> Result<Self> {
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Chunking(format!("disabling truncation: {e}")))?;
        tokenizer.with_padding(None);
        let count = |add_special: bool| {
            tokenizer
                .encode("a", add_special)
                .map(|e| e.len())
                .map_err(|e| Error::Chunking(format!("probing the tokenizer: {e}")))
        };
        let special_tokens = count(true)?.saturating_sub(count(false)?);
        config.validate(special_tokens)?;
        Ok(Self {
            tokenizer,
            config,
            special_tokens,
        })
    }

    pub fn config(&self) -> &ChunkerConfig {
        &self.config
    }

    /// Special tokens the tokenizer adds to every chunk (2 for BERT: [CLS] and [SEP]).
    pub fn special_tokens(&self) -> usize {
        self.special_tokens
    }

    /// Changes whenever the chunks for the same pages would change (config or algorithm), e.g.
    /// `tok256-ov32-v1`. The tokenizer is not part of it: it belongs to the model's identity.
    pub fn settings_fingerprint(&self) -> String {
        format!(
            "tok{}-ov{}-v{ALGORITHM_VERSION}",
            self.config.max_tokens, self.config.overlap_tokens
        )
    }
}

impl Chunker for TokenChunker {
    fn chunk(&self, pages: &[Page]) -> Result<Vec<Chunk>> {
        self.chunk_pages(pages)
    }
}
