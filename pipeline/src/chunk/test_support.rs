//! Test helpers: the real model tokenizer (loaded once) and invariant checks shared by the unit
//! tests and the property tests.

use std::sync::LazyLock;

use tokenizers::Tokenizer;

use super::{ChunkerConfig, TokenChunker};
use crate::doc::{Chunk, PAGE_SEPARATOR, Page};

/// The model's tokenizer as shipped (truncation 128 and padding on, as in `tokenizer.json`).
pub static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    let path = docfleet_models::default_model_dir().join("tokenizer.json");
    assert!(
        path.is_file(),
        "the chunker tests need the model tokenizer at {}; run ./scripts/setup (or set \
         DOCFLEET_MODEL_DIR)",
        path.display()
    );
    Tokenizer::from_file(&path)
        .unwrap_or_else(|e| panic!("cannot load tokenizer {}: {e}", path.display()))
});

/// The same tokenizer with truncation and padding off: exact counts.
pub static COUNTER: LazyLock<Tokenizer> = LazyLock::new(|| {
    let mut t = TOKENIZER.clone();
    t.with_truncation(None).expect("disable truncation");
    t.with_padding(None);
    t
});

pub fn chunker(max_tokens: usize, overlap_tokens: usize) -> TokenChunker {
    TokenChunker::new(
        TOKENIZER.clone(),
        ChunkerConfig {
            max_tokens,
            overlap_tokens,
        },
    )
    .expect("valid config")
}

pub fn pages(texts: &[&str]) -> Vec<Page> {
    texts
        .iter()
        .zip(1u32..)
        .map(|(t, number)| Page::new(number, *t))
        .collect()
}

pub fn doc_text(pages: &[Page]) -> String {
    pages
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join(PAGE_SEPARATOR)
}

pub fn count(text: &str) -> usize {
    COUNTER.encode(text, true).expect("encode").len()
}

/// Checks every invariant of a chunking result; returns a description of the first violation.
pub fn check_invariants(
    pages: &[Page],
    chunks: &[Chunk],
    max_tokens: usize,
    overlap_tokens: usize,
) -> Result<(), String> {
    let text = doc_text(pages);
    let chars: Vec<char> = text.chars().collect();
    // Char range of every page, by page number.
    let mut ranges = Vec::new();
    let mut pos = 0u64;
    for (i, p) in pages.iter().enumerate() {
        if i > 0 {
            pos += PAGE_SEPARATOR.chars().count() as u64;
        }
        let len = p.text.chars().count() as u64;
        ranges.push((p.number, pos, pos + len));
        pos += len;
    }
    let range_of = |number: u32| ranges.iter().find(|r| r.0 == number).copied();
    let mut covered = vec![false; chars.len()];
    let sep = PAGE_SEPARATOR.chars().count() as u64;
    for (i, c) in chunks.iter().enumerate() {
        let ctx = format!("chunk {i} ({}..{} {:?})", c.char_start, c.char_end, c.text);
        if c.index as usize != i {
            return Err(format!("{ctx}: index {} != {i}", c.index));
        }
        if c.char_start >= c.char_end || c.char_end as usize > chars.len() {
            return Err(format!("{ctx}: bad char range"));
        }
        let slice: String = chars[c.char_start as usize..c.char_end as usize]
            .iter()
            .collect();
        if slice != c.text {
            return Err(format!("{ctx}: text is not the document slice {slice:?}"));
        }
        let n = count(&c.text);
        if n > max_tokens {
            return Err(format!("{ctx}: {n} tokens > max {max_tokens}"));
        }
        if n != c.token_count as usize {
            return Err(format!(
                "{ctx}: token_count {} but encodes to {n}",
                c.token_count
            ));
        }
        if c.page_start > c.page_end {
            return Err(format!(
                "{ctx}: page_start {} > page_end {}",
                c.page_start, c.page_end
            ));
        }
        let (Some(first), Some(last)) = (range_of(c.page_start), range_of(c.page_end)) else {
            return Err(format!("{ctx}: unknown page"));
        };
        if c.char_start < first.1 || c.char_start > first.2 + sep {
            return Err(format!("{ctx}: start outside page {}", c.page_start));
        }
        if c.char_end <= last.1 || c.char_end > last.2 + sep {
            return Err(format!("{ctx}: end outside page {}", c.page_end));
        }
        if i > 0 {
            let prev = &chunks[i - 1];
            if c.char_start <= prev.char_start {
                return Err(format!("{ctx}: start does not increase"));
            }
            if c.char_start < prev.char_end {
                let shared: String = chars[c.char_start as usize..prev.char_end as usize]
                    .iter()
                    .collect();
                // Allow a token or two of slack: shared text re-tokenized on its own.
                let shared_tokens = count(&shared).saturating_sub(count(""));
                if shared_tokens > overlap_tokens + 2 {
                    return Err(format!(
                        "{ctx}: overlaps previous by {shared_tokens} tokens > {overlap_tokens}"
                    ));
                }
            }
        }
        for flag in &mut covered[c.char_start as usize..c.char_end as usize] {
            *flag = true;
        }
    }
    if let Some(pos) = (0..chars.len()).find(|&i| !covered[i] && !chars[i].is_whitespace()) {
        return Err(format!("char {pos} ({:?}) is in no chunk", chars[pos]));
    }
    Ok(())
}
