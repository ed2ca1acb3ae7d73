//! How hits are ordered: the top-k candidate order shared by the rankers, and the reciprocal
//! rank fusion of a dense and a keyword list.

use std::cmp::Ordering;
use std::collections::HashMap;

use uuid::Uuid;

use crate::index::{Fusion, SearchHit};

/// A candidate in a top-k heap, with what its ranker needs to keep (`()`, or the embedded
/// index's row): ordered by score, then by id (lower id is better), so ties are deterministic.
#[derive(Debug, Clone, Copy)]
pub(in crate::index) struct Ranked<T = ()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ChunkPayload;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    fn hit(n: u128, score: f32) -> SearchHit {
        SearchHit {
            id: id(n),
            score,
            payload: ChunkPayload {
                tenant: "t".into(),
                doc_id: format!("d{n}"),
                chunk_index: 0,
                chunk_count: 1,
                page_start: 1,
                page_end: 1,
                ..ChunkPayload::default()
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
}
