//! Turns the token map into chunks: plans chunk ends and overlaps, verifies each chunk's real
//! token count (a batch at a time, in parallel where the tokenizer allows) and shrinks the rare
//! chunk that re-tokenizes longer on its own.

use super::TokenChunker;
use super::layout::DocLayout;
use super::plan;
use super::tokens::TokenMap;
use crate::doc::{Chunk, Page};
use crate::error::{Error, Result};

/// Chunks planned ahead and verified with one batch call.
const BATCH: usize = 64;

/// A chunk planned over tokens `s..e`, covering bytes `start..end` of the document text.
struct Planned {
    s: usize,
    e: usize,
    start: usize,
    end: usize,
}

impl TokenChunker {
    pub(super) fn chunk_pages(&self, pages: &[Page]) -> Result<Vec<Chunk>> {
        let layout = DocLayout::new(pages);
        let page_texts: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
        let tokens = TokenMap::build(&self.tokenizer, &layout, &page_texts)?;
        let n = tokens.len();
        let budget = self.config.max_tokens - self.special_tokens;
        let mut chunks = Vec::with_capacity(n / budget.max(1) + 1);
        let mut s = 0;
        while s < n {
            // Plan up to BATCH chunks assuming they verify, then verify them all at once.
            let mut planned = Vec::with_capacity(BATCH);
            let mut cur = s;
            while cur < n && planned.len() < BATCH {
                let e = plan::select_end(&tokens, cur, (cur + budget).min(n));
                let (start, end) = Self::byte_span(&layout, &tokens, cur, e);
                planned.push(Planned {
                    s: cur,
                    e,
                    start,
                    end,
                });
                cur = self.next_after(&tokens, cur, e, start);
            }
            let texts: Vec<&str> = planned
                .iter()
                .map(|p| &layout.text[p.start..p.end])
                .collect();
            let counts = self.count_batch(texts)?;
            s = n;
            for (p, count) in planned.iter().zip(counts) {
                if count <= self.config.max_tokens {
                    push_chunk(&mut chunks, &layout, p.start, p.end, count)?;
                    s = self.next_after(&tokens, p.s, p.e, p.start);
                } else {
                    // Re-plan from the chunk that came out too long.
                    let (e, start) = self.shrink_chunk(&mut chunks, &layout, &tokens, p.s)?;
                    s = self.next_after(&tokens, p.s, e, start);
                    break;
                }
            }
        }
        Ok(chunks)
    }

    /// Start of the chunk after one over tokens `s..e` starting at byte `start` (`n` when done).
    fn next_after(&self, tokens: &TokenMap, s: usize, e: usize, start: usize) -> usize {
        let n = tokens.len();
        if e >= n {
            return n;
        }
        let mut next = plan::next_start(tokens, s, e, self.config.overlap_tokens);
        // Several tokens can share one char: a chunk must start strictly after the last one.
        while next < n && tokens.starts[next] <= start {
            next += 1;
        }
        next
    }

    /// Emits the chunk starting at token `s`, shrinking it until its text, tokenized on its own,
    /// fits `max_tokens`. Returns its end token and start byte.
    fn shrink_chunk(
        &self,
        chunks: &mut Vec<Chunk>,
        layout: &DocLayout,
        tokens: &TokenMap,
        s: usize,
    ) -> Result<(usize, usize)> {
        let max_tokens = self.config.max_tokens;
        let budget = max_tokens - self.special_tokens;
        let mut limit = (s + budget).min(tokens.len());
        loop {
            let e = plan::select_end(tokens, s, limit);
            let (start, end) = Self::byte_span(layout, tokens, s, e);
            let count = self.count_tokens(&layout.text[start..end])?;
            if count <= max_tokens {
                push_chunk(chunks, layout, start, end, count)?;
                return Ok((e, start));
            }
            if e <= s + 1 {
                // One token whose text alone needs more than the budget (only with tiny
                // budgets): split it by chars.
                self.split_by_chars(chunks, layout, start, end)?;
                return Ok((e, start));
            }
            limit = e - (count - max_tokens).min(e - s - 1).max(1);
        }
    }

    fn count_batch(&self, texts: Vec<&str>) -> Result<Vec<usize>> {
        self.tokenizer
            .encode_batch_fast(texts, true)
            .map(|encodings| encodings.iter().map(|e| e.len()).collect())
            .map_err(|e| Error::Chunking(format!("tokenizing chunks: {e}")))
    }

    /// Emits `start..end` as consecutive chunks of as many chars as fit (no overlap).
    fn split_by_chars(
        &self,
        chunks: &mut Vec<Chunk>,
        layout: &DocLayout,
        start: usize,
        end: usize,
    ) -> Result<()> {
        let mut pos = start;
        while pos < end {
            let rest = &layout.text[pos..end];
            let trimmed = rest.trim_start();
            pos += rest.len() - trimmed.len();
            if trimmed.is_empty() {
                break;
            }
            // Char boundaries of `trimmed`, after the first char; find the longest fitting prefix.
            let cuts: Vec<usize> = trimmed
                .char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain([trimmed.len()])
                .collect();
            let (mut lo, mut hi) = (0usize, cuts.len() - 1);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if self.count_tokens(&trimmed[..cuts[mid]])? <= self.config.max_tokens {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            let piece = trimmed[..cuts[lo]].trim_end();
            let count = self.count_tokens(piece)?;
            if count > self.config.max_tokens {
                return Err(Error::Chunking(format!(
                    "the single character {piece:?} needs {count} tokens, over max_tokens {}",
                    self.config.max_tokens
                )));
            }
            push_chunk(chunks, layout, pos, pos + piece.len(), count)?;
            pos += cuts[lo];
        }
        Ok(())
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        self.tokenizer
            .encode_fast(text, true)
            .map(|e| e.len())
            .map_err(|e| Error::Chunking(format!("tokenizing a chunk: {e}")))
    }

    /// Byte span of the chunk over tokens `s..e`: from the start of token `s` (of the first
    /// non-whitespace char for the first chunk) to the end of token `e - 1`, extended over any
    /// non-whitespace the tokenizer dropped before the next token, so no text falls between chunks.
    fn byte_span(layout: &DocLayout, tokens: &TokenMap, s: usize, e: usize) -> (usize, usize) {
        let text = layout.text.as_str();
        let start = if s == 0 {
            (text.len() - text.trim_start().len()).min(tokens.starts[0])
        } else {
            tokens.starts[s]
        };
        let last_end = tokens.ends[e - 1];
        let gap_end = tokens.starts.get(e).copied().unwrap_or(text.len());
        let end = if gap_end > last_end {
            last_end + text[last_end..gap_end].trim_end().len()
        } else {
            last_end
        };
        (start, end.max(start))
    }
}

fn push_chunk(
    chunks: &mut Vec<Chunk>,
    layout: &DocLayout,
    start: usize,
    end: usize,
    count: usize,
) -> Result<()> {
    if end <= start {
        return Ok(());
    }
    chunks.push(Chunk {
        index: u32::try_from(chunks.len())
            .map_err(|_| Error::Chunking("more than u32::MAX chunks".into()))?,
        text: layout.text[start..end].to_owned(),
        token_count: u32::try_from(count).unwrap_or(u32::MAX),
        page_start: layout.page_at(start),
        page_end: layout.page_at(end - 1),
        char_start: layout.char_at(start),
        char_end: layout.char_at(end),
    });
    Ok(())
}
