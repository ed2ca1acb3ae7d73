//! Keyword search: terms, BM25 weights, an in-memory inverted index (the embedded index's), the
//! sparse vectors Qdrant stores, reciprocal rank fusion and highlighted snippets.
//!
//! One BM25 formula on both backends, so they rank alike: a chunk's weight for a term is
//! `tf·(k1+1) / (tf + k1·(1 − b + b·len/AVG_TERMS))` (the part Qdrant stores in a sparse
//! vector), the query side is `idf(t) = ln(1 + (N − df + 0.5)/(df + 0.5))` over the chunks in
//! scope of the index (what Qdrant's IDF modifier computes), a chunk's score is the sum over the
//! query's distinct terms. `AVG_TERMS` is a fixed length, not the corpus average, because Qdrant
//! does not know the latter.

mod highlight;
mod inverted;
mod ranking;

pub use self::highlight::highlight;
pub use self::inverted::InvertedIndex;
pub(in crate::index) use self::ranking::Ranked;
pub use self::ranking::fuse;

use std::collections::HashMap;

pub const K1: f32 = 1.2;
pub const B: f32 = 0.75;
/// Fixed document length the BM25 length norm is relative to (Qdrant cannot know the corpus
/// average; both backends use this).
pub const AVG_TERMS: f32 = 160.0;

/// Characters that join alphanumeric pieces into one identifier (`XK-4471-b`, `ERR_42`,
/// `v1.2.3`, `a/b`, `urn:x`).
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '_' | '.' | '/' | ':')
}

/// Byte spans of the terms of `text`, in the order [`terms`] gives them: each maximal run of
/// alphanumerics, and after the last piece of an identifier (pieces joined by single joiner
/// characters) the whole identifier, flagged `true`.
fn spans(text: &str, mut emit: impl FnMut(usize, usize, bool)) {
    // The current piece's start, the current group's start, and how many pieces it has.
    let mut piece: Option<usize> = None;
    let mut group_start = 0;
    let mut pieces = 0usize;
    // End of the last piece, and whether a single joiner followed it.
    let mut last_end = 0;
    let mut joined = false;
    let close_group = |emit: &mut dyn FnMut(usize, usize, bool), pieces: usize, start, end| {
        if pieces >= 2 {
            emit(start, end, true);
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if piece.is_none() {
                piece = Some(i);
                if !joined {
                    close_group(&mut emit, pieces, group_start, last_end);
                    group_start = i;
                    pieces = 0;
                }
                joined = false;
            }
            continue;
        }
        if let Some(start) = piece.take() {
            emit(start, i, false);
            pieces += 1;
            last_end = i;
            joined = is_joiner(c);
        } else {
            // A second separator in a row (or a separator after one): the group ends.
            joined = false;
        }
    }
    if let Some(start) = piece {
        emit(start, text.len(), false);
        pieces += 1;
        last_end = text.len();
    }
    close_group(&mut emit, pieces, group_start, last_end);
}

/// Lower-cased terms of a text: maximal runs of Unicode alphanumerics; in addition, a run of
/// alphanumeric pieces joined by '-', '_', '.', '/', ':' without spaces (an identifier like
/// "XK-4471-b" or "ERR_42" or "v1.2.3") also yields the whole joined token lower-cased (so
/// "xk-4471-b" -> "xk", "4471", "b", "xk-4471-b"). No stemming, no stop words (exact terms
/// matter).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    spans(text, |s, e, _| out.push(text[s..e].to_lowercase()));
    out
}

/// Stable 32-bit id of a term (FNV-1a over its UTF-8 bytes): the sparse vector index in Qdrant.
pub fn term_id(term: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in term.as_bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Document side of BM25 for a chunk's text: per distinct term id,
/// tf·(K1+1)/(tf + K1·(1 − B + B·len/AVG_TERMS)), len = number of terms; sorted by id; ids that
/// collide are summed.
pub fn doc_weights(text: &str) -> Vec<(u32, f32)> {
    let all = terms(text);
    let norm = K1 * (1.0 - B + B * all.len() as f32 / AVG_TERMS);
    let mut tf: HashMap<String, u32> = HashMap::with_capacity(all.len());
    for t in all {
        *tf.entry(t).or_default() += 1;
    }
    let mut out: Vec<(u32, f32)> = tf
        .into_iter()
        .map(|(t, n)| {
            let n = n as f32;
            (term_id(&t), n * (K1 + 1.0) / (n + norm))
        })
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // Sum colliding ids (the sort above fixed the order the sum is taken in).
    out.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            true
        } else {
            false
        }
    });
    out
}

/// The query's distinct term ids, sorted (each has weight 1 in a sparse query).
pub fn query_terms(text: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = terms(text).iter().map(|t| term_id(t)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Qdrant's IDF: ln(1 + (docs − df + 0.5)/(df + 0.5)).
pub fn idf(docs: u64, df: u64) -> f32 {
    let (n, df) = (docs as f64, df.min(docs) as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn terms_split_on_non_alphanumerics_and_keep_identifiers_whole() {
        assert_eq!(terms("XK-4471-b"), ["xk", "4471", "b", "xk-4471-b"]);
        assert_eq!(
            terms("Error ERR_42 in v1.2.3, see a--b."),
            [
                "error", "err", "42", "err_42", "in", "v1", "2", "3", "v1.2.3", "see", "a", "b"
            ]
        );
        assert_eq!(terms("Grüße, Ölmühle!"), ["grüße", "ölmühle"]);
        assert_eq!(terms("s3://bucket/a"), ["s3", "bucket", "a", "bucket/a"]);
        assert_eq!(terms("end."), ["end"]);
        assert_eq!(terms("x-y"), ["x", "y", "x-y"]);
        assert!(terms("  -- ... ").is_empty());
        assert!(terms("").is_empty());
    }

    #[test]
    fn term_id_is_fnv1a() {
        // FNV-1a 32 reference values.
        assert_eq!(term_id(""), 0x811c_9dc5);
        assert_eq!(term_id("a"), 0xe40c_292c);
        assert_eq!(term_id("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn doc_weights_follow_bm25_with_the_fixed_length() {
        let w = doc_weights("apple apple pear");
        let norm = K1 * (1.0 - B + B * 3.0 / AVG_TERMS);
        let expect_apple = 2.0 * (K1 + 1.0) / (2.0 + norm);
        let expect_pear = (K1 + 1.0) / (1.0 + norm);
        assert_eq!(w.len(), 2);
        assert!(w.windows(2).all(|p| p[0].0 < p[1].0), "sorted by id");
        let get = |t: &str| w.iter().find(|(i, _)| *i == term_id(t)).unwrap().1;
        assert!((get("apple") - expect_apple).abs() < 1e-6);
        assert!((get("pear") - expect_pear).abs() < 1e-6);
        assert!(doc_weights("").is_empty());
        assert_eq!(query_terms("b a B a"), {
            let mut v = vec![term_id("a"), term_id("b")];
            v.sort_unstable();
            v
        });
    }

    #[test]
    fn idf_is_qdrants() {
        assert!((idf(10, 1) - (1.0f32 + 9.5 / 1.5).ln()).abs() < 1e-6);
        assert!(idf(10, 10) > 0.0);
        assert!(idf(1000, 1) > idf(1000, 100));
    }
}
