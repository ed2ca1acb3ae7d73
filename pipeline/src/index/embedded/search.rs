//! Exact cosine search: normalisation, an autovectorising dot product and a bounded top-k heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::state::State;
use crate::index::keyword::Ranked;
use crate::index::{Filter, SearchHit};

/// Scales `v` to unit length in place. A zero vector stays zero (it scores 0 against anything).
pub(super) fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        let inv = 1.0 / norm;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Dot product written for the autovectoriser: 16 independent accumulators over exact chunks of
/// 16 lanes (two AVX2 / one AVX-512 register), then the remainder.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    // Pairwise reduction keeps the sum order fixed (and vectorisable).
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// Best `top_k` rows within the filter, best first. `query` must already be normalised and
/// `dims` long.
pub(super) fn search(
    state: &State,
    query: &[f32],
    filter: &Filter,
    top_k: usize,
) -> Vec<SearchHit> {
    if top_k == 0 {
        return Vec::new();
    }
    let Some(tenant) = state.tenant_index(&filter.tenant) else {
        return Vec::new();
    };
    // Min-heap of the best k so far: its top is the worst kept.
    let mut heap: BinaryHeap<Reverse<Ranked<usize>>> = BinaryHeap::with_capacity(top_k + 1);
    let mut consider = |row: usize| {
        let cand = Ranked {
            score: dot(query, state.row(row)),
            id: state.ids[row],
            item: row,
        };
        if heap.len() < top_k {
            heap.push(Reverse(cand));
        } else if heap.peek().is_some_and(|Reverse(worst)| cand > *worst) {
            heap.pop();
            heap.push(Reverse(cand));
        }
    };
    // Tenant and document are checked by the row lists below; the payload only when the filter
    // asks more.
    let narrower = filter.source_prefix.is_some()
        || !filter.media_types.is_empty()
        || filter.pages.is_some()
        || !filter.tags.is_empty();
    let in_scope = |r: &usize| !narrower || filter.matches(&state.payloads[*r]);
    match &filter.doc_id {
        // A document's rows are few: visit only them.
        Some(doc_id) => state
            .doc_rows(&filter.tenant, doc_id)
            .into_iter()
            .filter(in_scope)
            .for_each(&mut consider),
        None => (0..state.len())
            .filter(|&r| state.row_tenant[r] == tenant)
            .filter(in_scope)
            .for_each(&mut consider),
    }
    let mut best: Vec<Ranked<usize>> = heap.into_iter().map(|Reverse(s)| s).collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    best.into_iter()
        .map(|s| SearchHit {
            id: s.id,
            score: s.score.clamp(-1.0, 1.0),
            payload: state.payloads[s.item].clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_all_tail_lengths() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = vec![0.0; 5];
        normalize(&mut z);
        assert_eq!(z, vec![0.0; 5]);
    }
}
