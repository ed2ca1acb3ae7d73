//! Keyword search: terms, BM25 weights, an in-memory inverted index (the embedded index's), the
//! sparse vectors Qdrant stores, reciprocal rank fusion and highlighted snippets.
//!
//! One BM25 formula on both backends, so they rank alike: a chunk's weight for a term is
//! `tf·(k1+1) / (tf + k1·(1 − b + b·len/AVG_TERMS))` (the part Qdrant stores in a sparse
//! vector), the query side is `idf(t) = ln(1 + (N − df + 0.5)/(df + 0.5))` over the chunks in
//! scope of the index (what Qdrant's IDF modifier computes), a chunk's score is the sum over the
//! query's distinct terms. `AVG_TERMS` is a fixed length, not the corpus average, because Qdrant
//! does not know the latter.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};

use uuid::Uuid;

use super::{Fusion, SearchHit};

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

/// One tenant's postings. Removal is lazy: a removed point's slot is emptied and the document
/// frequencies lowered at once, its posting entries are dropped when dead slots outnumber live
/// ones (so a delete costs the point's own terms, not the length of common terms' lists).
#[derive(Debug, Default)]
struct TenantPostings {
    /// Term id → (slot, weight), slots ascending; may hold entries of emptied slots.
    postings: HashMap<u32, Vec<(u32, f32)>>,
    /// Term id → live points with the term.
    df: HashMap<u32, u64>,
    /// Slot → point; `None` once removed.
    slots: Vec<Option<Uuid>>,
    live: u64,
}

impl TenantPostings {
    fn dead(&self) -> usize {
        self.slots.len() - self.live as usize
    }

    /// Drops the entries of emptied slots and renumbers the slots densely.
    fn purge(&mut self, points: &mut HashMap<Uuid, Entry>) {
        let mut remap = vec![u32::MAX; self.slots.len()];
        let mut slots = Vec::with_capacity(self.live as usize);
        for (old, id) in self.slots.iter().enumerate() {
            if let Some(id) = id {
                remap[old] = slots.len() as u32;
                if let Some(e) = points.get_mut(id) {
                    e.slot = slots.len() as u32;
                }
                slots.push(Some(*id));
            }
        }
        self.slots = slots;
        self.postings.retain(|_, list| {
            list.retain_mut(|(slot, _)| {
                let new = remap[*slot as usize];
                *slot = new;
                new != u32::MAX
            });
            !list.is_empty()
        });
    }
}

/// Where a point is: its tenant, its slot there, and its term ids (to lower their frequencies
/// when it goes).
#[derive(Debug)]
struct Entry {
    tenant: u32,
    slot: u32,
    terms: Box<[u32]>,
}

/// Per-tenant inverted index: term id -> postings (point id, weight); document frequency and
/// point count per tenant.
#[derive(Debug, Default)]
pub struct InvertedIndex {
    tenants: Vec<TenantPostings>,
    tenant_ix: HashMap<String, u32>,
    points: HashMap<Uuid, Entry>,
}

/// Dead slots a tenant may hold before a purge, at least (and at least as many as live ones).
const PURGE_MIN_DEAD: usize = 1024;

impl InvertedIndex {
    /// Adds a point (replacing its earlier entry if any).
    pub fn insert(&mut self, id: Uuid, tenant: &str, weights: &[(u32, f32)]) {
        self.remove(&id);
        let t = match self.tenant_ix.get(tenant) {
            Some(&t) => t,
            None => {
                let t = self.tenants.len() as u32;
                self.tenants.push(TenantPostings::default());
                self.tenant_ix.insert(tenant.to_owned(), t);
                t
            }
        };
        let tp = &mut self.tenants[t as usize];
        let slot = tp.slots.len() as u32;
        tp.slots.push(Some(id));
        tp.live += 1;
        let mut terms = Vec::with_capacity(weights.len());
        for &(term, w) in weights {
            // Callers give distinct ids ([`doc_weights`]); a repeat is summed into one entry.
            let list = tp.postings.entry(term).or_default();
            match list.last_mut() {
                Some((s, acc)) if *s == slot => *acc += w,
                _ => {
                    list.push((slot, w));
                    *tp.df.entry(term).or_default() += 1;
                    terms.push(term);
                }
            }
        }
        self.points.insert(
            id,
            Entry {
                tenant: t,
                slot,
                terms: terms.into_boxed_slice(),
            },
        );
    }

    pub fn remove(&mut self, id: &Uuid) {
        let Some(e) = self.points.remove(id) else {
            return;
        };
        let tp = &mut self.tenants[e.tenant as usize];
        tp.slots[e.slot as usize] = None;
        tp.live -= 1;
        for term in e.terms.iter() {
            if let Some(n) = tp.df.get_mut(term) {
                *n -= 1;
                if *n == 0 {
                    tp.df.remove(term);
                    // No live entry is left: the whole list can go now.
                    tp.postings.remove(term);
                }
            }
        }
        let dead = tp.dead();
        if dead > PURGE_MIN_DEAD && dead > tp.live as usize {
            tp.purge(&mut self.points);
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Best `top_k` of the tenant's points by Σ over query terms of idf(N_tenant,
    /// df_tenant)·weight, among those `allow` accepts; ties by id ascending; points scoring 0 are
    /// not returned.
    pub fn search(
        &self,
        tenant: &str,
        query: &[u32],
        allow: impl Fn(&Uuid) -> bool,
        top_k: usize,
    ) -> Vec<(Uuid, f32)> {
        let Some(tp) = self
            .tenant_ix
            .get(tenant)
            .map(|&t| &self.tenants[t as usize])
        else {
            return Vec::new();
        };
        if top_k == 0 || tp.live == 0 {
            return Vec::new();
        }
        let mut seen = HashSet::with_capacity(query.len());
        let lists: Vec<(f32, &[(u32, f32)])> = query
            .iter()
            .filter(|t| seen.insert(**t))
            .filter_map(|t| {
                let df = tp.df.get(t).copied()?;
                let list = tp.postings.get(t)?;
                Some((idf(tp.live, df), list.as_slice()))
            })
            .collect();
        let entries: usize = lists.iter().map(|(_, l)| l.len()).sum();
        let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(top_k + 1);
        let mut consider = |slot: u32, score: f32| {
            if score <= 0.0 {
                return;
            }
            let Some(id) = tp.slots[slot as usize] else {
                return;
            };
            let cand = Ranked {
                score,
                id,
                item: (),
            };
            // `allow` (a payload filter) only for candidates that would make the list.
            if heap.len() >= top_k && heap.peek().is_some_and(|Reverse(worst)| cand <= *worst) {
                return;
            }
            if !allow(&id) {
                return;
            }
            heap.push(Reverse(cand));
            if heap.len() > top_k {
                heap.pop();
            }
        };
        // Many entries against the slots: a dense accumulator is cheaper than a hash map.
        if entries >= tp.slots.len() / 8 {
            let mut acc = vec![0f32; tp.slots.len()];
            for (idf, list) in &lists {
                for &(slot, w) in *list {
                    acc[slot as usize] += idf * w;
                }
            }
            for (slot, score) in acc.into_iter().enumerate() {
                consider(slot as u32, score);
            }
        } else {
            let mut acc: HashMap<u32, f32> = HashMap::with_capacity(entries);
            for (idf, list) in &lists {
                for &(slot, w) in *list {
                    *acc.entry(slot).or_default() += idf * w;
                }
            }
            for (slot, score) in acc {
                consider(slot, score);
            }
        }
        let mut best: Vec<Ranked> = heap.into_iter().map(|Reverse(r)| r).collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.into_iter().map(|r| (r.id, r.score)).collect()
    }
}

/// A candidate in a top-k heap, with what its ranker needs to keep (`()`, or the embedded
/// index's row): ordered by score, then by id (lower id is better), so ties are deterministic.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ranked<T = ()> {
    pub score: f32,
    pub id: Uuid,
    pub item: T,
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Ranked<T> {}
impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Ranked<T> {
    /// Greater is better.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(&self.id))
    }
}

/// Weighted RRF of a dense and a keyword list (each already best first): score = Σ
/// weight/(k + rank), rank from 1; payload taken from whichever list has the hit; best first,
/// ties by id; at most top_k.
pub fn fuse(
    dense: Vec<SearchHit>,
    keyword: Vec<SearchHit>,
    fusion: &Fusion,
    top_k: usize,
) -> Vec<SearchHit> {
    let mut fused: Vec<SearchHit> = Vec::with_capacity(dense.len() + keyword.len());
    let mut at: HashMap<Uuid, usize> = HashMap::with_capacity(dense.len() + keyword.len());
    let k = fusion.k as f32;
    for (list, weight) in [
        (dense, fusion.dense_weight),
        (keyword, fusion.keyword_weight),
    ] {
        for (rank, hit) in list.into_iter().enumerate() {
            let add = weight / (k + (rank + 1) as f32);
            match at.get(&hit.id) {
                Some(&i) => fused[i].score += add,
                None => {
                    at.insert(hit.id, fused.len());
                    fused.push(SearchHit { score: add, ..hit });
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    fused.truncate(top_k);
    fused
}

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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::index::ChunkPayload;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

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

    #[test]
    fn inverted_index_scores_replaces_removes_and_scopes_tenants() {
        let mut ix = InvertedIndex::default();
        assert!(ix.is_empty());
        ix.insert(id(1), "t", &doc_weights("red apple"));
        ix.insert(id(2), "t", &doc_weights("green apple apple"));
        ix.insert(id(3), "t", &doc_weights("blue sky"));
        ix.insert(id(4), "u", &doc_weights("red red red"));
        assert_eq!(ix.len(), 4);
        let q = query_terms("red apple");
        let hits = ix.search("t", &q, |_| true, 10);
        let ids: Vec<Uuid> = hits.iter().map(|h| h.0).collect();
        assert_eq!(
            ids,
            [id(1), id(2)],
            "both terms beat one; no-match not returned"
        );
        // By hand: N = 3, df(red) = 1, df(apple) = 2.
        let w1 = doc_weights("red apple");
        let expect: f32 = w1
            .iter()
            .map(|&(t, w)| {
                w * if t == term_id("red") {
                    idf(3, 1)
                } else {
                    idf(3, 2)
                }
            })
            .sum();
        assert!((hits[0].1 - expect).abs() < 1e-5);
        // Filtered, bounded, other tenant.
        assert_eq!(ix.search("t", &q, |i| *i != id(1), 10)[0].0, id(2));
        assert_eq!(ix.search("t", &q, |_| true, 1).len(), 1);
        assert_eq!(ix.search("u", &q, |_| true, 10)[0].0, id(4));
        assert!(ix.search("nobody", &q, |_| true, 10).is_empty());
        // Replace: no duplicate, new text counts.
        ix.insert(id(1), "t", &doc_weights("blue blue"));
        assert_eq!(ix.len(), 4);
        let ids: Vec<Uuid> = ix
            .search("t", &q, |_| true, 10)
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(ids, [id(2)]);
        ix.remove(&id(2));
        ix.remove(&id(2));
        assert!(ix.search("t", &q, |_| true, 10).is_empty());
        assert_eq!(ix.len(), 3);
    }

    #[test]
    fn ties_break_by_id_and_purges_keep_results() {
        let mut ix = InvertedIndex::default();
        for n in (0..3000u128).rev() {
            ix.insert(id(n), "t", &doc_weights("same text"));
        }
        let q = query_terms("same");
        let hits = ix.search("t", &q, |_| true, 3);
        assert_eq!(
            hits.iter().map(|h| h.0).collect::<Vec<_>>(),
            [id(0), id(1), id(2)]
        );
        // Enough removals to purge the dead slots (several times, with re-inserts between).
        for n in 0..2500u128 {
            ix.remove(&id(n));
            if n % 7 == 0 {
                ix.insert(id(n + 10_000), "t", &doc_weights("same other"));
            }
        }
        let hits = ix.search("t", &query_terms("other"), |_| true, 2);
        assert_eq!(
            hits.iter().map(|h| h.0).collect::<Vec<_>>(),
            [id(10_000), id(10_007)]
        );
        let all = ix.search("t", &q, |_| true, 10_000);
        assert_eq!(all.len(), 500 + 358);
        assert_eq!(all.len(), ix.len());
    }

    fn hit(n: u128, score: f32) -> SearchHit {
        SearchHit {
            id: id(n),
            score,
            payload: ChunkPayload {
                tenant: "t".into(),
                doc_id: format!("d{n}"),
                source: String::new(),
                content_sha256: String::new(),
                chunk_index: 0,
                chunk_count: 1,
                page_start: 1,
                page_end: 1,
                page_label: None,
                ocr_pages: Vec::new(),
                ocr_confidence: None,
                media_type: String::new(),
                tags: Default::default(),
                text: String::new(),
                model: String::new(),
                pipeline_version: String::new(),
            },
        }
    }

    #[test]
    fn fuse_is_weighted_rrf() {
        let fusion = Fusion::default();
        let dense = vec![hit(1, 0.9), hit(2, 0.8), hit(3, 0.7)];
        let keyword = vec![hit(3, 12.0), hit(4, 5.0)];
        let fused = fuse(dense, keyword, &fusion, 10);
        let ids: Vec<Uuid> = fused.iter().map(|h| h.id).collect();
        // 3: 1/63 + 1/61; 1: 1/61; 4 and 2 tie at 1/62 → by id.
        assert_eq!(ids, [id(3), id(1), id(2), id(4)]);
        assert!((fused[0].score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-6);
        assert_eq!(fused[3].payload.doc_id, "d4");
        let weighted = Fusion {
            dense_weight: 1.0,
            keyword_weight: 3.0,
            ..fusion
        };
        let top = fuse(vec![hit(1, 0.9)], vec![hit(4, 1.0)], &weighted, 1);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].id, id(4));
    }

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
