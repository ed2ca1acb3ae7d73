//! The embedded index's inverted index: per-tenant postings of BM25 document weights, scored
//! with the tenant's IDF at query time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use uuid::Uuid;

use super::{Ranked, idf};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{doc_weights, query_terms, term_id};
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
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
}
