//! Snippets: the part of a chunk around the query's terms, the terms marked.

use std::collections::HashSet;

use super::{spans, terms};

/// The part of `text` (at most `max_chars` chars, cut at word boundaries, "…" where cut) around
/// the densest cluster of the query's terms, each occurrence of a query term (case-insensitive,
/// whole term) wrapped in `**`; when no term occurs, the start of the text. Flattens whitespace to
/// single spaces.
///
/// `max_chars` counts the text shown and the "…" marks, not the `**` around terms.
pub fn highlight(text: &str, query: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut wanted: HashSet<String> = terms(query).into_iter().collect();
    // One-letter words ("a", "I") still count for ranking, but marking them is noise.
    if wanted.iter().any(|t| t.chars().count() > 1) {
        wanted.retain(|t| t.chars().count() > 1);
    }
    // Occurrences as byte spans: an identifier before its pieces (sorted by start, longest
    // first), overlapping ones dropped.
    let mut found: Vec<(usize, usize)> = Vec::new();
    spans(&flat, |s, e, _| {
        if wanted.contains(&flat[s..e].to_lowercase()) {
            found.push((s, e));
        }
    });
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut occ: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (s, e) in found {
        if occ.last().is_none_or(|&(_, last_end)| s >= last_end) {
            occ.push((s, e));
        }
    }
    // Char offsets: `starts[c]` is the byte offset of char `c`, plus the end.
    let mut starts: Vec<usize> = flat.char_indices().map(|(i, _)| i).collect();
    starts.push(flat.len());
    let n = starts.len() - 1;
    let ch = |byte: usize| starts.partition_point(|&b| b < byte);
    let occ: Vec<(usize, usize)> = occ.into_iter().map(|(s, e)| (ch(s), ch(e))).collect();
    let (start, end) = if n <= max_chars {
        (0, n)
    } else {
        window(&flat, &starts, &occ, max_chars)
    };
    let mut out = String::with_capacity(max_chars + 4 * occ.len() + 8);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(s, e) in occ.iter().filter(|&&(s, e)| s >= start && e <= end) {
        out.push_str(&flat[starts[at]..starts[s]]);
        out.push_str("**");
        out.push_str(&flat[starts[s]..starts[e]]);
        out.push_str("**");
        at = e;
    }
    out.push_str(&flat[starts[at]..starts[end]]);
    if end < n {
        out.push('…');
    }
    out
}

/// The char range shown of `flat` (longer than `max_chars` chars): around the densest run of
/// occurrences, cut at spaces, leaving room for the two "…".
fn window(
    flat: &str,
    starts: &[usize],
    occ: &[(usize, usize)],
    max_chars: usize,
) -> (usize, usize) {
    let n = starts.len() - 1;
    let is_space = |c: usize| flat.as_bytes()[starts[c]] == b' ';
    let budget = max_chars.saturating_sub(2).max(1);
    // Densest cluster: most occurrences whose span fits the budget, the earliest on ties.
    let (mut cs, mut ce) = (0, 0);
    let mut best = 0;
    let mut j = 0;
    for i in 0..occ.len() {
        j = j.max(i);
        while j < occ.len() && occ[j].1 - occ[i].0 <= budget {
            j += 1;
        }
        if j - i > best {
            best = j - i;
            (cs, ce) = (occ[i].0, occ[j - 1].1);
        }
    }
    if best == 0 {
        // No term, or one longer than the budget: the start of the text (or of that term).
        let from = occ.first().map_or(0, |o| o.0);
        let mut end = (from + budget).min(n);
        if end < n && !is_space(end) {
            end = (from + 1..end).rev().find(|&c| is_space(c)).unwrap_or(end);
        }
        return trim(flat, starts, from, end);
    }
    // Context on both sides of the cluster, then cut at word boundaries inside the slack.
    let slack = budget - (ce - cs);
    let mut start = cs.saturating_sub(slack / 2);
    let mut end = (start + budget).min(n);
    if end == n {
        start = n.saturating_sub(budget);
    }
    if start > 0 && !is_space(start - 1) {
        start = (start..cs).find(|&c| is_space(c)).map_or(cs, |c| c + 1);
    }
    if end < n && !is_space(end) {
        end = (ce..end).rev().find(|&c| is_space(c)).unwrap_or(ce);
    }
    trim(flat, starts, start, end)
}

/// Without the spaces at either end of `start..end`.
fn trim(flat: &str, starts: &[usize], mut start: usize, mut end: usize) -> (usize, usize) {
    let is_space = |c: usize| flat.as_bytes()[starts[c]] == b' ';
    while start < end && is_space(start) {
        start += 1;
    }
    while end > start && is_space(end - 1) {
        end -= 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_marks_terms_around_the_densest_cluster() {
        let text = "Intro words here.\n\n Nothing much. Then the   part number XK-4471-b fails \
                    with code ERR_42 and xk-4471-b again. Later filler text goes on and on.";
        let h = highlight(text, "xk-4471-b err_42", 60);
        assert!(
            h.contains("**XK-4471-b**") && h.contains("**ERR_42**"),
            "{h}"
        );
        assert!(h.contains("**xk-4471-b**"), "{h}");
        assert!(h.starts_with('…') && h.ends_with('…'), "{h}");
        assert!(h.replace("**", "").chars().count() <= 60, "{h}");
        assert!(!h.contains("  ") && !h.contains('\n'));
        // Whole terms only, case-insensitive, pieces of identifiers count.
        assert_eq!(
            highlight("Cat concat CAT", "cat", 100),
            "**Cat** concat **CAT**"
        );
        assert_eq!(
            highlight("part XK-4471-b", "4471", 100),
            "part XK-**4471**-b"
        );
        // No term: the start, cut at a word boundary.
        let h = highlight("alpha beta gamma delta epsilon", "zeta", 14);
        assert_eq!(h, "alpha beta…");
        assert_eq!(highlight("short", "zeta", 10), "short");
        assert_eq!(highlight("", "a", 10), "");
    }
}
