//! The Qdrant requests the adapter sends, built by pure functions so that their shape (batch
//! sizes, prefetch and fusion, `wait`, the fields scrolled) is unit-tested without a server. The
//! collection layout is in [`super::layout`], every read's scope in [`super::filters`], the
//! facet requests in [`super::facets`].

use std::collections::HashMap;

use qdrant_client::qdrant::{
    CountPoints, CountPointsBuilder, DeletePoints, DeletePointsBuilder, Filter as QFilter,
    PayloadIncludeSelector, PointId, PointStruct, PrefetchQuery, PrefetchQueryBuilder, Query,
    QueryPoints, QueryPointsBuilder, RrfBuilder, ScrollPoints, ScrollPointsBuilder, UpsertPoints,
    UpsertPointsBuilder, Vector,
};

use super::filters::{doc_heads, doc_scope, scope};
use super::layout::{BM25, DENSE};
use super::payload::{CHUNK_COUNT, CONTENT_SHA256, PIPELINE_VERSION, to_payload};
use crate::index::{Filter, Fusion, Point, keyword};

/// Points per scroll page (doc_versions, stats).
pub const SCROLL_PAGE_POINTS: u32 = 1024;

pub(super) fn limit(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A point's vectors: the embedding as `dense`, the chunk text's BM25 weights as `bm25` (left
/// out when the text has no terms: such a chunk is never a keyword hit).
pub fn point_vectors(p: &Point) -> HashMap<String, Vector> {
    let mut vectors = HashMap::from([(DENSE.to_owned(), Vector::new_dense(p.vector.clone()))]);
    let weights = keyword::doc_weights(&p.payload.text);
    if !weights.is_empty() {
        let (indices, values): (Vec<u32>, Vec<f32>) = weights.into_iter().unzip();
        vectors.insert(BM25.to_owned(), Vector::new_sparse(indices, values));
    }
    vectors
}

/// The points in requests of at most `batch_points` each, acknowledged only once applied
/// (`wait`), so that `upsert` returning means the vectors are in the index.
pub fn upsert_batches(name: &str, points: &[Point], batch_points: usize) -> Vec<UpsertPoints> {
    points
        .chunks(batch_points.max(1))
        .map(|batch| {
            let structs: Vec<PointStruct> = batch
                .iter()
                .map(|p| {
                    PointStruct::new(p.id.to_string(), point_vectors(p), to_payload(&p.payload))
                })
                .collect();
            UpsertPointsBuilder::new(name, structs).wait(true).build()
        })
        .collect()
}

pub fn count(name: &str, filter: QFilter) -> CountPoints {
    CountPointsBuilder::new(name)
        .filter(filter)
        .exact(true)
        .build()
}

pub fn delete(name: &str, filter: QFilter) -> DeletePoints {
    DeletePointsBuilder::new(name)
        .points(filter)
        .wait(true)
        .build()
}

/// One page of a document's points, with only the fields that tell its versions apart.
pub fn scroll_versions(
    name: &str,
    tenant: &str,
    doc_id: &str,
    offset: Option<PointId>,
) -> ScrollPoints {
    scroll(
        name,
        doc_scope(tenant, doc_id),
        &[CONTENT_SHA256, PIPELINE_VERSION, CHUNK_COUNT],
        offset,
    )
}

/// One page of the tenant's first chunks: one point per document, carrying its chunk count.
pub fn scroll_doc_heads(name: &str, tenant: &str, offset: Option<PointId>) -> ScrollPoints {
    scroll(
        name,
        doc_heads(&Filter::tenant(tenant)),
        &[CHUNK_COUNT],
        offset,
    )
}

fn scroll(name: &str, filter: QFilter, fields: &[&str], offset: Option<PointId>) -> ScrollPoints {
    let mut b = ScrollPointsBuilder::new(name)
        .filter(filter)
        .limit(SCROLL_PAGE_POINTS)
        .with_payload(PayloadIncludeSelector::new(
            fields.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>(),
        ))
        .with_vectors(false);
    if let Some(offset) = offset {
        b = b.offset(offset);
    }
    b.build()
}

/// The sparse query of `text`: its distinct term ids (sorted: Qdrant refuses repeated
/// indices), each of weight 1, which the IDF modifier turns into the terms' IDF. `None` when the
/// text has no terms: then nothing can match and no request is sent.
pub fn sparse_query(text: &str) -> Option<Vec<(u32, f32)>> {
    let mut ids = keyword::query_terms(text);
    ids.sort_unstable();
    ids.dedup();
    (!ids.is_empty()).then(|| ids.into_iter().map(|id| (id, 1.0)).collect())
}

fn dense_prefetch(query: &[f32], filter: &Filter, top_k: usize) -> PrefetchQuery {
    PrefetchQueryBuilder::default()
        .query(Query::new_nearest(query.to_vec()))
        .using(DENSE)
        .filter(scope(filter))
        .limit(limit(top_k))
        .build()
}

fn sparse_prefetch(terms: &[(u32, f32)], filter: &Filter, top_k: usize) -> PrefetchQuery {
    PrefetchQueryBuilder::default()
        .query(Query::new_nearest(terms))
        .using(BM25)
        .filter(scope(filter))
        .limit(limit(top_k))
        .build()
}

/// Best `top_k` by cosine similarity of the `dense` vector, within the filter.
pub fn search(name: &str, query: &[f32], filter: &Filter, top_k: usize) -> QueryPoints {
    QueryPointsBuilder::new(name)
        .query(Query::new_nearest(query.to_vec()))
        .using(DENSE)
        .filter(scope(filter))
        .limit(limit(top_k))
        .with_payload(true)
        .build()
}

/// Best `top_k` by BM25: the dot product of the sparse query ([`sparse_query`], weighted by
/// IDF on the server) with the `bm25` vectors, within the filter. Points sharing no term with
/// the query are not returned.
pub fn keyword_search(
    name: &str,
    terms: &[(u32, f32)],
    filter: &Filter,
    top_k: usize,
) -> QueryPoints {
    QueryPointsBuilder::new(name)
        .query(Query::new_nearest(terms))
        .using(BM25)
        .filter(scope(filter))
        .limit(limit(top_k))
        .with_payload(true)
        .build()
}

/// Qdrant's RRF constant for `fusion`, where its fused ranking is the embedded one; `None`
/// where only the client-side fusion ([`keyword::fuse`]) gives it.
///
/// Qdrant scores a point at 0-based position `p` of a prefetch with weight `w` as
/// `1 / ((p + 1)/w + k − 1)`; ours is `w / (k + rank)`, rank from 1. With equal weights and
/// no `weights` sent, Qdrant's is `1 / (p + k)`: the same ranking as ours when its `k` is ours
/// plus one, and the same score once multiplied by the common weight. Unequal weights scale
/// Qdrant's positions, not its scores, so the orders differ: those fuse here.
pub fn server_rrf_k(fusion: &Fusion) -> Option<u32> {
    let equal = fusion.dense_weight == fusion.keyword_weight;
    (equal && fusion.dense_weight > 0.0 && fusion.dense_weight.is_finite())
        .then(|| fusion.k.checked_add(1))
        .flatten()
}

/// Dense and keyword prefetches, each with the whole filter and `candidates` points, fused by
/// RRF on the server with constant `rrf_k` ([`server_rrf_k`]). The whole fused list comes back
/// (up to both prefetches' points): RRF ties are common (rank r in one list only scores the same
/// in either), and Qdrant does not order ties, so the caller sorts by score, then id, and cuts.
pub fn hybrid_search(
    name: &str,
    query: &[f32],
    terms: &[(u32, f32)],
    filter: &Filter,
    candidates: usize,
    rrf_k: u32,
) -> QueryPoints {
    QueryPointsBuilder::new(name)
        .add_prefetch(dense_prefetch(query, filter, candidates))
        .add_prefetch(sparse_prefetch(terms, filter, candidates))
        .query(Query::new_rrf(RrfBuilder::with_k(rrf_k)))
        .limit(limit(candidates).saturating_mul(2))
        .with_payload(true)
        .build()
}

#[cfg(test)]
mod tests {
    use qdrant_client::qdrant::vector_input::Variant as Input;
    use qdrant_client::qdrant::{query, with_payload_selector};
    use uuid::Uuid;

    use super::super::payload::CHUNK_INDEX;
    use super::super::test_support::{fields, full_filter, pairs, point};
    use super::*;
    use crate::index::ChunkPayload;

    #[test]
    fn upserts_go_in_batches_that_wait_for_the_write() {
        let points: Vec<Point> = (0..300).map(point).collect();
        let batches = upsert_batches("docs", &points, 128);
        let sizes: Vec<_> = batches.iter().map(|b| b.points.len()).collect();
        assert_eq!(sizes, [128, 128, 44]);
        assert!(batches.iter().all(|b| b.wait == Some(true)));
        let first = &batches[0].points[0];
        assert_eq!(first.id, Some(Uuid::from_u128(0).to_string().into()));
        assert_eq!(first.payload[CHUNK_INDEX], 0_i64.into());
        assert!(upsert_batches("docs", &[], 128).is_empty());
    }

    #[test]
    fn points_carry_the_embedding_and_the_bm25_weights() {
        let p = point(3);
        let v = point_vectors(&p);
        assert_eq!(v[DENSE].clone().try_into_dense().unwrap(), p.vector);
        let (ids, weights) = v[BM25].clone().try_into_sparse().unwrap();
        let want = keyword::doc_weights(&p.payload.text);
        assert!(!want.is_empty());
        assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>());
        assert_eq!(weights, want.iter().map(|w| w.1).collect::<Vec<_>>());
        let silent = Point {
            payload: ChunkPayload {
                text: String::new(),
                ..p.payload.clone()
            },
            ..p
        };
        let v = point_vectors(&silent);
        assert!(v.contains_key(DENSE) && !v.contains_key(BM25));
    }

    #[test]
    fn every_read_is_scoped_to_the_tenant() {
        let f = Filter::tenant("acme");
        let q = search("docs", &[0.1, 0.2], &f, 5);
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.using.as_deref(), Some(DENSE));
        assert_eq!(
            fields(&q.filter.unwrap().must),
            pairs(&[("tenant", "acme")])
        );
        let one_doc = Filter {
            doc_id: Some("d1".into()),
            ..f
        };
        let q = search("docs", &[0.1], &one_doc, 3);
        assert_eq!(
            fields(&q.filter.unwrap().must),
            pairs(&[("tenant", "acme"), ("doc_id", "d1")])
        );
        let heads = scroll_doc_heads("docs", "acme", None).filter.unwrap();
        assert_eq!(
            fields(&heads.must),
            pairs(&[("tenant", "acme"), ("chunk_index", "0")])
        );
    }

    #[test]
    fn keyword_search_queries_the_sparse_vector_with_unit_weights() {
        assert_eq!(sparse_query(""), None);
        assert_eq!(sparse_query("  ,. "), None);
        let terms = sparse_query("Invoice invoice paid").unwrap();
        let want = keyword::query_terms("invoice paid");
        assert_eq!(terms, want.iter().map(|&id| (id, 1.0)).collect::<Vec<_>>());
        let q = keyword_search("docs", &terms, &full_filter(), 7);
        assert_eq!(q.using.as_deref(), Some(BM25));
        assert_eq!(q.limit, Some(7));
        assert_eq!(q.filter, Some(scope(&full_filter())));
        let Some(query::Variant::Nearest(input)) = q.query.and_then(|q| q.variant) else {
            panic!("a nearest query expected");
        };
        let Some(Input::Sparse(s)) = input.variant else {
            panic!("a sparse vector expected");
        };
        assert_eq!(s.indices, want);
        assert!(s.values.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn hybrid_search_prefetches_both_vectors_with_the_filter_and_fuses_by_rrf() {
        let terms = sparse_query("invoice").unwrap();
        let f = full_filter();
        let q = hybrid_search("docs", &[0.1, 0.2], &terms, &f, 100, 61);
        assert_eq!(q.collection_name, "docs");
        assert_eq!(q.limit, Some(200));
        let [dense, sparse] = q.prefetch.as_slice() else {
            panic!("two prefetches expected");
        };
        assert_eq!(dense.using.as_deref(), Some(DENSE));
        assert_eq!(sparse.using.as_deref(), Some(BM25));
        for p in [dense, sparse] {
            assert_eq!(p.filter, Some(scope(&f)));
            assert_eq!(p.limit, Some(100));
        }
        let Some(query::Variant::Nearest(d)) = dense.query.clone().and_then(|q| q.variant) else {
            panic!("a nearest dense query expected");
        };
        assert!(matches!(d.variant, Some(Input::Dense(_))));
        let Some(query::Variant::Rrf(rrf)) = q.query.and_then(|q| q.variant) else {
            panic!("an RRF fusion expected");
        };
        assert_eq!(rrf.k, Some(61));
        assert!(rrf.weights.is_empty(), "equal weights are left unset");
    }

    #[test]
    fn server_fusion_only_where_it_ranks_as_the_client_side_fusion() {
        // Qdrant's k is ours + 1 (its positions are 0-based).
        assert_eq!(server_rrf_k(&Fusion::default()), Some(61));
        let equal = Fusion {
            dense_weight: 2.0,
            keyword_weight: 2.0,
            k: 10,
            ..Fusion::default()
        };
        assert_eq!(server_rrf_k(&equal), Some(11));
        for (d, k) in [(1.0, 0.5), (0.0, 0.0), (f32::NAN, f32::NAN)] {
            let f = Fusion {
                dense_weight: d,
                keyword_weight: k,
                ..Fusion::default()
            };
            assert_eq!(server_rrf_k(&f), None, "{d} {k}");
        }
        assert_eq!(
            server_rrf_k(&Fusion {
                k: u32::MAX,
                ..Fusion::default()
            }),
            None
        );
    }

    #[test]
    fn qdrants_rrf_with_k_plus_one_scores_as_keyword_fuse() {
        // Qdrant's formula at 0-based position p, weight 1: 1 / ((p + 1) + k' - 1).
        let qdrant = |p: usize, k: u32| 1.0 / ((p + 1) as f32 + k as f32 - 1.0);
        let fusion = Fusion::default();
        let k = server_rrf_k(&fusion).unwrap();
        for rank in 1..=200_usize {
            let ours = fusion.dense_weight / (fusion.k as f32 + rank as f32);
            assert_eq!(qdrant(rank - 1, k), ours, "rank {rank}");
        }
    }

    #[test]
    fn scrolls_page_with_only_the_fields_needed_and_no_vectors() {
        let s = scroll_versions("docs", "acme", "d1", Some(7_u64.into()));
        assert_eq!(s.limit, Some(SCROLL_PAGE_POINTS));
        assert_eq!(s.offset, Some(7_u64.into()));
        let Some(with_payload_selector::SelectorOptions::Include(inc)) =
            s.with_payload.and_then(|w| w.selector_options)
        else {
            panic!("an include selector expected");
        };
        assert_eq!(inc.fields, [CONTENT_SHA256, PIPELINE_VERSION, CHUNK_COUNT]);
        assert_eq!(
            s.with_vectors.and_then(|w| w.selector_options),
            Some(false.into())
        );
    }
}
