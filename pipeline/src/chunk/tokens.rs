//! The document's tokens (byte spans into the document text) and a score for every boundary
//! between two consecutive tokens, saying how good a place it is to cut.

use tokenizers::Tokenizer;

use super::layout::DocLayout;
use crate::error::{Error, Result};

/// Between two pieces of one word (WordPiece `##` continuation, a char split in two): never cut
/// unless a word is longer than the budget.
pub(super) const INSIDE_WORD: u8 = 0;
/// Between two pre-tokenizer words with nothing in between (punctuation, CJK characters).
pub(super) const WORD: u8 = 1;
/// Whitespace or a single line break.
pub(super) const WHITESPACE: u8 = 2;
/// After a sentence terminator (`.`, `!`, `?`, `。` …) followed by whitespace.
pub(super) const SENTENCE: u8 = 3;
/// A blank line, including the page separator.
pub(super) const PARAGRAPH: u8 = 4;

/// Terminators that end a sentence when followed by whitespace.
const SENTENCE_ENDS: &[char] = &[
    '.', '!', '?', '…', '‼', '⁇', '⁈', '⁉', '。', '！', '？', '｡',
];
/// Full-width terminators that end a sentence even with no whitespace after them (CJK text).
const FULL_WIDTH_ENDS: &[char] = &['。', '！', '？', '｡'];
/// Closing quotes and brackets that may follow a terminator: `He said "Stop." Then…`.
const CLOSERS: &[char] = &[
    '"', '\'', '”', '’', '»', ')', ']', '}', '」', '』', '）', '】',
];

/// Tokens of the whole document, without special tokens.
pub(super) struct TokenMap {
    /// Byte offset in the document text where token `i` starts (on a char boundary,
    /// non-decreasing).
    pub starts: Vec<usize>,
    /// Byte offset where token `i` ends (on a char boundary, ≥ its start).
    pub ends: Vec<usize>,
    /// `scores[i]`: how good it is to cut just before token `i` (`scores[0]` is unused).
    pub scores: Vec<u8>,
}

impl TokenMap {
    /// Tokenizes every page (in parallel where the tokenizer allows) and scores the boundaries.
    /// Pages can be tokenized separately because the separator between them is whitespace, which
    /// every pre-tokenizer we use splits on.
    pub fn build(tokenizer: &Tokenizer, layout: &DocLayout, pages: &[&str]) -> Result<Self> {
        let encodings = tokenizer
            .encode_batch(pages.to_vec(), false)
            .map_err(|e| Error::Chunking(format!("tokenizing the document: {e}")))?;
        let total = encodings.iter().map(|e| e.len()).sum();
        let mut map = Self {
            starts: Vec::with_capacity(total),
            ends: Vec::with_capacity(total),
            scores: Vec::with_capacity(total),
        };
        let text = layout.text.as_str();
        for (page_idx, enc) in encodings.iter().enumerate() {
            let base = layout.page_byte_starts[page_idx];
            let page_len = pages[page_idx].len();
            let mut prev_word: Option<u32> = None;
            for (k, (&(s, e), &word)) in
                enc.get_offsets().iter().zip(enc.get_word_ids()).enumerate()
            {
                let prev_start = map.starts.last().copied().unwrap_or(0);
                let start = layout
                    .floor_boundary(base + s.min(page_len))
                    .max(prev_start);
                let end = layout.ceil_boundary(base + e.min(page_len)).max(start);
                let score = match map.ends.last() {
                    None => PARAGRAPH,
                    Some(_) if k == 0 => PARAGRAPH,
                    Some(&prev_end) => {
                        let same_word = word.is_some() && word == prev_word;
                        score_between(text, prev_end, start, same_word)
                    }
                };
                map.starts.push(start);
                map.ends.push(end);
                map.scores.push(score);
                prev_word = word;
            }
        }
        Ok(map)
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }
}

/// Score of the boundary between a token ending at `prev_end` and one starting at `start`.
fn score_between(text: &str, prev_end: usize, start: usize, same_word: bool) -> u8 {
    let gap = if start > prev_end {
        &text[prev_end..start]
    } else {
        ""
    };
    let has_space = gap.chars().any(char::is_whitespace);
    if !has_space {
        if same_word {
            return INSIDE_WORD;
        }
        return if ends_sentence(&text[..prev_end], FULL_WIDTH_ENDS) {
            SENTENCE
        } else {
            WORD
        };
    }
    if gap.bytes().filter(|&b| b == b'\n').count() >= 2 {
        return PARAGRAPH;
    }
    if ends_sentence(&text[..prev_end], SENTENCE_ENDS) {
        SENTENCE
    } else {
        WHITESPACE
    }
}

/// Whether `before` ends with a sentence terminator, possibly followed by closing quotes.
fn ends_sentence(before: &str, terminators: &[char]) -> bool {
    before
        .chars()
        .rev()
        .take(4)
        .find(|c| !CLOSERS.contains(c))
        .is_some_and(|c| terminators.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_scores_rank_paragraph_sentence_space_word() {
        let t = "Hello world. Next\n\nPara 3.14 q,y";
        let at = |a: &str, b: &str| {
            let prev_end = t.find(a).unwrap() + a.len();
            let start = t.find(b).unwrap();
            (prev_end, start)
        };
        let (p, s) = at("world.", "Next");
        assert_eq!(score_between(t, p, s, false), SENTENCE);
        let (p, s) = at("Next", "Para");
        assert_eq!(score_between(t, p, s, false), PARAGRAPH);
        let (p, s) = at("Hello", "world");
        assert_eq!(score_between(t, p, s, false), WHITESPACE);
        let (p, s) = at("q", ",y");
        assert_eq!(score_between(t, p, s, false), WORD);
        assert_eq!(score_between(t, p, s, true), INSIDE_WORD);
        let cjk = "你好。世界";
        assert_eq!(
            score_between(cjk, "你好。".len(), "你好。".len(), false),
            SENTENCE
        );
        let quoted = "He said \"Stop.\" Then";
        let p = quoted.find(" Then").unwrap();
        assert_eq!(score_between(quoted, p, p + 1, false), SENTENCE);
    }
}
