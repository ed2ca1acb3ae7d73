//! Retrieval metrics as BEIR computes them (through pytrec_eval / trec_eval): nDCG@k with linear
//! graded gains and a log2 discount, recall@k and MRR@k. Pure functions over one query's ranked
//! document ids and its relevance judgments.

use std::collections::{HashMap, HashSet};

/// One query's judged documents: corpus id → relevance grade. Only grades > 0 are kept (the
/// loader drops the others), so every key is a relevant document.
pub type Judgments = HashMap<String, u32>;

/// The documents of a ranked list of chunks, each at the rank of its best (first) chunk.
pub fn collapse<'a>(doc_ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    doc_ids.into_iter().filter(|d| seen.insert(*d)).collect()
}

/// The first `k` distinct documents of `ranking` (a later repeat of a document is ignored, so it
/// neither counts twice nor takes a rank).
fn top_k<'a>(ranking: &[&'a str], k: usize) -> Vec<&'a str> {
    let mut out = collapse(ranking.iter().copied());
    out.truncate(k);
    out
}

fn grade(judgments: &Judgments, doc: &str) -> u32 {
    judgments.get(doc).copied().unwrap_or(0)
}

/// Rank `i` (from 0) discounted: 1 / log2(i + 2).
fn discount(i: usize) -> f64 {
    1.0 / ((i + 2) as f64).log2()
}

/// nDCG@k: DCG of the first `k` documents (gain = the grade) over the DCG of the ideal ranking
/// (all judged documents by grade, best first, cut at `k`). 0 when nothing is relevant.
pub fn ndcg_at(ranking: &[&str], judgments: &Judgments, k: usize) -> f64 {
    let dcg: f64 = top_k(ranking, k)
        .iter()
        .enumerate()
        .map(|(i, d)| f64::from(grade(judgments, d)) * discount(i))
        .sum();
    let mut ideal: Vec<u32> = judgments.values().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| f64::from(*g) * discount(i))
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// Recall@k: relevant documents among the first `k` over all relevant documents (0 when there
/// are none).
pub fn recall_at(ranking: &[&str], judgments: &Judgments, k: usize) -> f64 {
    let relevant = judgments.values().filter(|g| **g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = top_k(ranking, k)
        .iter()
        .filter(|d| grade(judgments, d) > 0)
        .count();
    found as f64 / relevant as f64
}

/// MRR@k: 1 / the rank (from 1) of the first relevant document among the first `k`, else 0.
pub fn mrr_at(ranking: &[&str], judgments: &Judgments, k: usize) -> f64 {
    top_k(ranking, k)
        .iter()
        .position(|d| grade(judgments, d) > 0)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// The figures of one query, or their means over queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
}

impl Scores {
    /// The figures of one query's ranked documents.
    pub fn of(ranking: &[&str], judgments: &Judgments) -> Self {
        Self {
            ndcg_at_10: ndcg_at(ranking, judgments, 10),
            recall_at_10: recall_at(ranking, judgments, 10),
            recall_at_100: recall_at(ranking, judgments, 100),
            mrr_at_10: mrr_at(ranking, judgments, 10),
        }
    }

    /// The mean of each figure (all 0 for no queries).
    pub fn mean(all: &[Scores]) -> Self {
        if all.is_empty() {
            return Self::default();
        }
        let n = all.len() as f64;
        let sum = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
        Self {
            ndcg_at_10: sum(|s| s.ndcg_at_10),
            recall_at_10: sum(|s| s.recall_at_10),
            recall_at_100: sum(|s| s.recall_at_100),
            mrr_at_10: sum(|s| s.mrr_at_10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, u32)]) -> Judgments {
        pairs.iter().map(|(d, g)| ((*d).to_owned(), *g)).collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn ndcg_of_a_perfect_ranking_is_one() {
        let j = judged(&[("a", 2), ("b", 1)]);
        close(ndcg_at(&["a", "b", "x"], &j, 10), 1.0);
    }

    #[test]
    fn ndcg_of_a_known_graded_ranking() {
        // Ranking x, b, a with a=2, b=1:
        // DCG = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0.630930 + 1.0 = 1.630930
        // IDCG = 2/log2(2) + 1/log2(3) = 2.630930
        let j = judged(&[("a", 2), ("b", 1)]);
        let dcg = 1.0 / 3f64.log2() + 2.0 / 2.0;
        let idcg = 2.0 + 1.0 / 3f64.log2();
        close(ndcg_at(&["x", "b", "a"], &j, 10), dcg / idcg);
        close(ndcg_at(&["x", "b", "a"], &j, 10), 0.619_906_233_284_065_7);
    }

    #[test]
    fn ndcg_cuts_the_ranking_but_not_the_ideal_below_k() {
        // Three relevant (grade 1), k = 2: the ideal is two hits at ranks 1-2.
        let j = judged(&[("a", 1), ("b", 1), ("c", 1)]);
        // Only "c" at rank 2 within the cut; "a" at rank 3 is past it.
        let got = ndcg_at(&["x", "c", "a"], &j, 2);
        close(got, (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2()));
    }

    #[test]
    fn ndcg_ignores_repeats() {
        // "a" repeated must not add gain twice, nor take rank 2 from "b".
        let j = judged(&[("a", 1), ("b", 1)]);
        close(ndcg_at(&["a", "a", "b"], &j, 10), 1.0);
    }

    #[test]
    fn recall_counts_each_relevant_document_once() {
        let j = judged(&[("a", 1), ("b", 3), ("c", 1), ("d", 1)]);
        // a twice, b once in the top 10: 2 of 4.
        close(recall_at(&["a", "x", "a", "b", "a"], &j, 10), 0.5);
        // k counts distinct documents: top 2 of [a, a, x, b] is a, x.
        close(recall_at(&["a", "a", "x", "b"], &j, 2), 0.25);
    }

    #[test]
    fn recall_at_100_sees_past_10() {
        let j = judged(&[("r", 1)]);
        let mut ranking: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
        ranking.push("r".to_owned());
        let ranking: Vec<&str> = ranking.iter().map(String::as_str).collect();
        close(recall_at(&ranking, &j, 10), 0.0);
        close(recall_at(&ranking, &j, 100), 1.0);
    }

    #[test]
    fn mrr_when_the_first_relevant_is_at_rank_3() {
        let j = judged(&[("c", 1), ("e", 2)]);
        close(mrr_at(&["a", "b", "c", "d", "e"], &j, 10), 1.0 / 3.0);
        // Past the cut: 0.
        close(mrr_at(&["a", "b", "c"], &j, 2), 0.0);
    }

    #[test]
    fn nothing_relevant_retrieved_is_zero() {
        let j = judged(&[("r", 1)]);
        let s = Scores::of(&["a", "b", "c"], &j);
        assert_eq!(s, Scores::default());
        // An empty ranking, and a query without any relevant document, too.
        assert_eq!(Scores::of(&[], &j), Scores::default());
        assert_eq!(Scores::of(&["a"], &Judgments::new()), Scores::default());
    }

    #[test]
    fn collapse_keeps_the_first_occurrence_order() {
        assert_eq!(collapse(["b", "a", "b", "c", "a"]), ["b", "a", "c"]);
    }

    #[test]
    fn mean_over_queries() {
        let a = Scores {
            ndcg_at_10: 1.0,
            recall_at_10: 0.5,
            recall_at_100: 1.0,
            mrr_at_10: 1.0,
        };
        let m = Scores::mean(&[a, Scores::default()]);
        close(m.ndcg_at_10, 0.5);
        close(m.recall_at_10, 0.25);
        close(m.recall_at_100, 0.5);
        close(m.mrr_at_10, 0.5);
        assert_eq!(Scores::mean(&[]), Scores::default());
    }
}
