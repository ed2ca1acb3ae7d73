//! The document text that chunk offsets refer to: pages joined with [`PAGE_SEPARATOR`], each
//! page's byte range in it, and a byte → char table so offsets convert in O(1).

use crate::doc::{PAGE_SEPARATOR, Page};

/// The joined document text and where each page lies in it.
pub(super) struct DocLayout {
    pub text: String,
    /// Byte offset in `text` where each page starts (same order as the input pages).
    pub page_byte_starts: Vec<usize>,
    /// Page numbers as given by the extractor (1-based).
    pub page_numbers: Vec<u32>,
    /// `byte_to_char[b]` = number of chars before byte `b`, for every char boundary `b` (and
    /// `text.len()`). Entries for bytes inside a char are never read.
    byte_to_char: Vec<u32>,
}

impl DocLayout {
    pub fn new(pages: &[Page]) -> Self {
        let total = pages.iter().map(|p| p.text.len()).sum::<usize>()
            + PAGE_SEPARATOR.len() * pages.len().saturating_sub(1);
        let mut text = String::with_capacity(total);
        let mut page_byte_starts = Vec::with_capacity(pages.len());
        for (i, page) in pages.iter().enumerate() {
            if i > 0 {
                text.push_str(PAGE_SEPARATOR);
            }
            page_byte_starts.push(text.len());
            text.push_str(&page.text);
        }
        let mut byte_to_char = vec![0u32; text.len() + 1];
        let mut n = 0u32;
        for (b, _) in text.char_indices() {
            byte_to_char[b] = n;
            n += 1;
        }
        byte_to_char[text.len()] = n;
        Self {
            text,
            page_byte_starts,
            page_numbers: pages.iter().map(|p| p.number).collect(),
            byte_to_char,
        }
    }

    /// Char offset of a byte offset that lies on a char boundary.
    pub fn char_at(&self, byte: usize) -> u64 {
        debug_assert!(self.text.is_char_boundary(byte));
        u64::from(self.byte_to_char[byte])
    }

    /// Number of the page that holds the byte at `byte` (a separator belongs to the page before).
    pub fn page_at(&self, byte: usize) -> u32 {
        let idx = self
            .page_byte_starts
            .partition_point(|&start| start <= byte);
        self.page_numbers[idx.saturating_sub(1)]
    }

    /// Largest char boundary ≤ `byte`.
    pub fn floor_boundary(&self, byte: usize) -> usize {
        let mut b = byte.min(self.text.len());
        while !self.text.is_char_boundary(b) {
            b -= 1;
        }
        b
    }

    /// Smallest char boundary ≥ `byte`.
    pub fn ceil_boundary(&self, byte: usize) -> usize {
        let mut b = byte.min(self.text.len());
        while !self.text.is_char_boundary(b) {
            b += 1;
        }
        b
    }
}
