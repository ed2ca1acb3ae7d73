//! Where a chunk ends and where the next one starts, in token indices.

use super::tokens::{TokenMap, WHITESPACE, WORD};

/// End (exclusive token index) of the chunk that starts at token `s` and may end no later than
/// `limit` (`s < limit ≤ n`). If everything left fits, that is the end; otherwise the best
/// boundary in the back half of the window (paragraph > sentence > whitespace, the latest on a
/// tie), else the last word boundary anywhere in the window, else a hard cut at `limit`.
pub(super) fn select_end(tokens: &TokenMap, s: usize, limit: usize) -> usize {
    let n = tokens.len();
    debug_assert!(s < limit && limit <= n);
    if limit == n {
        return n;
    }
    let back = s + (limit - s).div_ceil(2);
    let mut best: Option<(u8, usize)> = None;
    for e in back.max(s + 1)..=limit {
        let score = tokens.scores[e];
        if best.is_none_or(|(b, _)| score >= b) {
            best = Some((score, e));
        }
    }
    if let Some((score, e)) = best
        && score >= WORD
    {
        return e;
    }
    // The back half is inside one long word: cut before it if we can, else hard cut.
    (s + 1..back)
        .rev()
        .find(|&e| tokens.scores[e] >= WORD)
        .unwrap_or(limit)
}

/// Start of the chunk after one spanning tokens `s..e` (`e < n`): step back at most `overlap`
/// tokens from `e` to the earliest word start (preferring one after whitespace), always past `s`.
pub(super) fn next_start(tokens: &TokenMap, s: usize, e: usize, overlap: usize) -> usize {
    if overlap == 0 {
        return e;
    }
    let lo = e.saturating_sub(overlap).max(s + 1);
    (lo..=e)
        .find(|&t| tokens.scores[t] >= WHITESPACE)
        .or_else(|| (lo..=e).find(|&t| tokens.scores[t] >= WORD))
        .unwrap_or(e)
}

#[cfg(test)]
mod tests {
    use super::super::tokens::INSIDE_WORD;
    use super::*;

    fn map(scores: &[u8]) -> TokenMap {
        TokenMap {
            starts: (0..scores.len()).collect(),
            ends: (1..=scores.len()).collect(),
            scores: scores.to_vec(),
        }
    }

    #[test]
    fn prefers_paragraph_then_sentence_then_space_in_the_back_half() {
        //          0  1  2  3  4  5  6  7  8  9 10 11
        let m = map(&[4, 2, 4, 2, 2, 3, 2, 4, 2, 3, 2, 2]);
        assert_eq!(
            select_end(&m, 0, 10),
            7,
            "paragraph at 7 beats sentence at 9"
        );
        assert_eq!(select_end(&m, 0, 6), 5, "sentence at 5");
        let m = map(&[4, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
        assert_eq!(select_end(&m, 0, 8), 8, "latest whitespace");
        assert_eq!(select_end(&m, 0, 10), 10, "rest fits");
    }

    #[test]
    fn long_words_cut_before_them_or_hard() {
        let w = INSIDE_WORD;
        let m = map(&[4, 2, 2, w, w, w, w, w, w, w, w, w]);
        assert_eq!(
            select_end(&m, 0, 8),
            2,
            "cut before the long word (tokens 2..)"
        );
        let m = map(&[4, w, w, w, w, w, w, w, w, w, w, w]);
        assert_eq!(select_end(&m, 0, 8), 8, "hard cut");
        let m = map(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(select_end(&m, 0, 8), 8, "CJK: latest word boundary");
    }

    #[test]
    fn overlap_snaps_to_word_starts_and_progresses() {
        let w = INSIDE_WORD;
        let m = map(&[4, 2, w, 2, w, w, 2, 1, 2, 2, 2, 2]);
        assert_eq!(next_start(&m, 0, 9, 0), 9);
        assert_eq!(
            next_start(&m, 0, 9, 4),
            6,
            "earliest whitespace start in 5..=9"
        );
        assert_eq!(next_start(&m, 0, 9, 5), 6);
        assert_eq!(next_start(&m, 0, 9, 6), 3);
        assert_eq!(next_start(&m, 5, 6, 4), 6, "always past s");
        let m = map(&[4, w, w, w, w, w, w]);
        assert_eq!(next_start(&m, 0, 5, 2), 5, "no word start: no overlap");
    }
}
