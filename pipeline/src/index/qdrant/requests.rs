//! The Qdrant requests the adapter sends, built by pure functions so that their shape (layout,
//! filters, payload indexes, batch sizes, prefetch and fusion, `wait`) is unit-tested without a
//! server; and the pure readers of what comes back (the collection layout check, facet counts).

use std::collections::{BTreeMap, HashMap};

use qdrant_client::qdrant::facet_value::Variant as FacetVariant;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfig;
use qdrant_client::qdrant::{
    CollectionParams, Condition, CountPoints, CountPointsBuilder, CreateCollection,
    CreateCollectionBuilder, CreateFieldIndexCollection, CreateFieldIndexCollectionBuilder,
    DeletePoints, DeletePointsBuilder, Distance, FacetCounts, FacetCountsBuilder, FacetHit,
    FieldType, Filter as QFilter, IntegerIndexParamsBuilder, KeywordIndexParamsBuilder, Modifier,
    PayloadIncludeSelector, PointId, PointStruct, PrefetchQuery, PrefetchQueryBuilder, Query,
    QueryPoints, QueryPointsBuilder, Range, RepeatedStrings, RrfBuilder, ScrollPoints,
    ScrollPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPoints,
    UpsertPointsBuilder, Vector, VectorParamsBuilder, VectorsConfigBuilder,
};

use super::payload::{
    CHUNK_COUNT, CHUNK_INDEX, CONTENT_SHA256, DOC_ID, MEDIA_TYPE, PAGE_END, PAGE_START,
    PIPELINE_VERSION, SOURCE_FOLDERS, TAG_PAIRS, TENANT, tag_pair, to_payload,
};
use crate::index::{FacetCount, Facets, Filter, Fusion, Point, VersionKey, keyword};

/// Points per scroll page (doc_versions, stats).
pub const SCROLL_PAGE_POINTS: u32 = 1024;
/// Most tenants one facet request reports (stats of a shared collection).
pub const MAX_FACET_TENANTS: u64 = 100_000;
/// Values one facet request asks for: more than the caller's `limit`, so that the cut after
/// sorting (count desc, value asc) picks the same values as the embedded index even where
/// counts tie at the cut; exact unless more than this many values exist.
pub const MAX_FACET_VALUES: u64 = 10_000;
/// The named dense vector: the embedding, cosine.
pub const DENSE: &str = "dense";
/// The named sparse vector: BM25 document weights ([`keyword::doc_weights`]), IDF on the server.
pub const BM25: &str = "bm25";

/// How to migrate a collection of the old layout (one unnamed vector), for error messages.
pub const MIGRATE_HINT: &str = "create a collection with the new layout and re-index into it: \
     set DOCFLEET_QDRANT_COLLECTION=<collection>_v2 and `docfleet enqueue` the sources again \
     (or delete this collection and re-index); see docs/qdrant-hybrid.md";

fn limit(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Named vectors: `dense` (`dims`, cosine) and the sparse `bm25` whose query weights Qdrant
/// multiplies by the IDF of each term over the collection (`Modifier::Idf`): BM25 on the server.
pub fn create_collection(name: &str, dims: u64) -> CreateCollection {
    let mut dense = VectorsConfigBuilder::default();
    dense.add_named_vector_params(DENSE, VectorParamsBuilder::new(dims, Distance::Cosine));
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        BM25,
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
    );
    CreateCollectionBuilder::new(name)
        .vectors_config(dense)
        .sparse_vectors_config(sparse)
        .build()
}

/// Whether an existing collection has the layout [`create_collection`] makes for `dims`; the
/// error says what is wrong and how to go on.
pub fn check_layout(
    name: &str,
    params: Option<&CollectionParams>,
    dims: u64,
) -> Result<(), String> {
    let config = params
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|v| v.config.as_ref());
    let dense = match config {
        Some(VectorsConfig::ParamsMap(map)) => map.map.get(DENSE),
        Some(VectorsConfig::Params(_)) => {
            return Err(format!(
                "Qdrant collection {name:?} has the old layout (one unnamed vector, no \"bm25\" \
                 sparse vector for keyword and hybrid search): {MIGRATE_HINT}"
            ));
        }
        None => None,
    };
    let Some(dense) = dense else {
        return Err(format!(
            "Qdrant collection {name:?} has no dense vector named {DENSE:?}: it was not made by \
             docfleet; use another collection (DOCFLEET_QDRANT_COLLECTION)"
        ));
    };
    if dense.size != dims {
        return Err(format!(
            "Qdrant collection {name:?} holds {}-dim vectors but the model makes {dims}-dim ones: \
             use another collection (DOCFLEET_QDRANT_COLLECTION) or delete this one and re-index",
            dense.size
        ));
    }
    if dense.distance != Distance::Cosine as i32 {
        return Err(format!(
            "Qdrant collection {name:?}: vector {DENSE:?} is not compared by cosine similarity: \
             use another collection (DOCFLEET_QDRANT_COLLECTION)"
        ));
    }
    let bm25 = params
        .and_then(|p| p.sparse_vectors_config.as_ref())
        .and_then(|s| s.map.get(BM25));
    match bm25 {
        Some(p) if p.modifier == Some(Modifier::Idf as i32) => Ok(()),
        Some(_) => Err(format!(
            "Qdrant collection {name:?}: sparse vector {BM25:?} lacks the IDF modifier, so its \
             scores would not be BM25: {MIGRATE_HINT}"
        )),
        None => Err(format!(
            "Qdrant collection {name:?} has no sparse vector {BM25:?} for keyword and hybrid \
             search: {MIGRATE_HINT}"
        )),
    }
}

/// `tenant` is the tenant key (Qdrant co-locates a tenant's points and builds per-tenant HNSW
/// links), `doc_id` serves the per-document filters, `chunk_index` the one-point-per-document
/// filter of stats and facets; `media_type`, `tag_pairs` and `source_folders` (keyword) and
/// `page_start`/`page_end` (integer ranges) the search filters and facets (Qdrant facets only
/// indexed keyword fields).
pub fn payload_indexes(name: &str) -> Vec<CreateFieldIndexCollection> {
    let keyword = |field: &str| {
        CreateFieldIndexCollectionBuilder::new(name, field, FieldType::Keyword)
            .wait(true)
            .build()
    };
    let range = |field: &str| {
        CreateFieldIndexCollectionBuilder::new(name, field, FieldType::Integer)
            .field_index_params(IntegerIndexParamsBuilder::new(false, true))
            .wait(true)
            .build()
    };
    vec![
        CreateFieldIndexCollectionBuilder::new(name, TENANT, FieldType::Keyword)
            .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
            .wait(true)
            .build(),
        keyword(DOC_ID),
        CreateFieldIndexCollectionBuilder::new(name, CHUNK_INDEX, FieldType::Integer)
            .field_index_params(IntegerIndexParamsBuilder::new(true, false))
            .wait(true)
            .build(),
        keyword(MEDIA_TYPE),
        keyword(TAG_PAIRS),
        keyword(SOURCE_FOLDERS),
        range(PAGE_START),
        range(PAGE_END),
    ]
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

/// An exact keyword match. Built explicitly: the client's `From<String>` turns a value with
/// whitespace into a full-text match.
fn matches(key: &str, value: &str) -> Condition {
    Condition::matches(key, MatchValue::Keyword(value.to_owned()))
}

/// The filter's scope as a Qdrant filter, condition by condition the same as
/// [`Filter::matches`]. Every read goes through here, so the tenant condition is never missing.
pub fn scope(filter: &Filter) -> QFilter {
    let mut must = vec![matches(TENANT, &filter.tenant)];
    if let Some(doc_id) = &filter.doc_id {
        must.push(matches(DOC_ID, doc_id));
    }
    if let Some(folder) = &filter.source_prefix {
        must.push(matches(SOURCE_FOLDERS, folder));
    }
    if !filter.media_types.is_empty() {
        must.push(Condition::matches(
            MEDIA_TYPE,
            MatchValue::Keywords(RepeatedStrings {
                strings: filter.media_types.clone(),
            }),
        ));
    }
    if let Some((first, last)) = filter.pages {
        must.push(Condition::range(
            PAGE_START,
            Range {
                lte: Some(f64::from(last)),
                ..Range::default()
            },
        ));
        must.push(Condition::range(
            PAGE_END,
            Range {
                gte: Some(f64::from(first)),
                ..Range::default()
            },
        ));
    }
    for (k, v) in &filter.tags {
        must.push(matches(TAG_PAIRS, &tag_pair(k, v)));
    }
    QFilter::must(must)
}

/// The first chunk of each document in scope, the page range ignored: one point per document.
pub fn doc_heads(filter: &Filter) -> QFilter {
    let mut f = scope(&filter.without_pages());
    f.must.push(Condition::matches(CHUNK_INDEX, 0_i64));
    f
}

fn doc_scope(tenant: &str, doc_id: &str) -> QFilter {
    scope(&Filter {
        doc_id: Some(doc_id.to_owned()),
        ..Filter::tenant(tenant)
    })
}

/// The document's points that belong to any version but `keep`.
pub fn stale(tenant: &str, doc_id: &str, keep: &VersionKey) -> QFilter {
    let kept = QFilter::must([
        matches(CONTENT_SHA256, &keep.content_sha256),
        matches(PIPELINE_VERSION, &keep.pipeline_version),
    ]);
    QFilter {
        must_not: vec![kept.into()],
        ..doc_scope(tenant, doc_id)
    }
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

/// Points per tenant in a shared collection (exact counts, from the tenant index).
pub fn tenant_facet(name: &str) -> FacetCounts {
    FacetCountsBuilder::new(name, TENANT)
        .limit(MAX_FACET_TENANTS)
        .exact(true)
        .build()
}

/// Documents in scope (page range ignored) per value of `media_type` and of `tag_pairs`:
/// exact counts over the documents' first chunks.
pub fn facet_requests(name: &str, filter: &Filter, limit: usize) -> [FacetCounts; 2] {
    let values = MAX_FACET_VALUES.max(self::limit(limit));
    [MEDIA_TYPE, TAG_PAIRS].map(|key| {
        FacetCountsBuilder::new(name, key)
            .filter(doc_heads(filter))
            .limit(values)
            .exact(true)
            .build()
    })
}

/// The `limit` most frequent string values, count desc then value asc (the embedded order).
pub fn facet_counts(hits: &[FacetHit], limit: usize) -> Vec<FacetCount> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for hit in hits {
        if let Some(FacetVariant::StringValue(v)) =
            hit.value.as_ref().and_then(|v| v.variant.as_ref())
        {
            *counts.entry(v.clone()).or_default() += hit.count;
        }
    }
    let mut out: Vec<FacetCount> = counts
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out.truncate(limit);
    out
}

/// [`Facets`] from the answers to [`facet_requests`] (media type, then tags).
pub fn facets(media_type: &[FacetHit], tags: &[FacetHit], limit: usize) -> Facets {
    Facets {
        media_type: facet_counts(media_type, limit),
        tags: facet_counts(tags, limit),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::payload_index_params::IndexParams;
    use qdrant_client::qdrant::vector_input::Variant as Input;
    use qdrant_client::qdrant::vectors_config::Config;
    use qdrant_client::qdrant::{
        CollectionParams, FacetValue, SparseVectorConfig, SparseVectorParams, VectorParams,
        VectorParamsMap, VectorsConfig as QVectorsConfig, points_selector, query,
        with_payload_selector,
    };
    use uuid::Uuid;

    use super::*;
    use crate::index::ChunkPayload;

    /// (key, value) of each `must` field condition, for readable assertions.
    fn fields(conds: &[Condition]) -> Vec<(String, String)> {
        conds
            .iter()
            .filter_map(|c| match &c.condition_one_of {
                Some(ConditionOneOf::Field(f)) => {
                    let v = match f.r#match.as_ref()?.match_value.as_ref()? {
                        MatchValue::Keyword(s) => s.clone(),
                        MatchValue::Integer(n) => n.to_string(),
                        MatchValue::Keywords(k) => format!("any of {}", k.strings.join(",")),
                        other => format!("{other:?}"),
                    };
                    Some((f.key.clone(), v))
                }
                _ => None,
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn point(i: u32) -> Point {
        Point {
            id: Uuid::from_u128(u128::from(i)),
            vector: vec![0.5; 4],
            payload: ChunkPayload {
                tenant: "t".into(),
                doc_id: "d".into(),
                source: "s".into(),
                content_sha256: "c".into(),
                chunk_index: i,
                chunk_count: 10,
                page_start: 1,
                page_end: 1,
                page_label: None,
                ocr_pages: Vec::new(),
                ocr_confidence: None,
                media_type: "text/plain".into(),
                tags: BTreeMap::new(),
                text: format!("invoice {i} paid"),
                model: "m".into(),
                pipeline_version: "p".into(),
            },
        }
    }

    /// (key, gte, lte) of each `must` range condition.
    fn ranges(conds: &[Condition]) -> Vec<(String, Option<f64>, Option<f64>)> {
        conds
            .iter()
            .filter_map(|c| match &c.condition_one_of {
                Some(ConditionOneOf::Field(f)) => {
                    let r = f.range.as_ref()?;
                    Some((f.key.clone(), r.gte, r.lte))
                }
                _ => None,
            })
            .collect()
    }

    fn params(dense: Option<(u64, Distance)>, bm25: Option<Option<Modifier>>) -> CollectionParams {
        let map = dense
            .map(|(size, d)| {
                HashMap::from([(
                    DENSE.to_owned(),
                    VectorParams::from(VectorParamsBuilder::new(size, d)),
                )])
            })
            .unwrap_or_default();
        CollectionParams {
            vectors_config: Some(QVectorsConfig {
                config: Some(Config::ParamsMap(VectorParamsMap { map })),
            }),
            sparse_vectors_config: bm25.map(|m| SparseVectorConfig {
                map: HashMap::from([(
                    BM25.to_owned(),
                    SparseVectorParams {
                        index: None,
                        modifier: m.map(|m| m as i32),
                    },
                )]),
            }),
            ..CollectionParams::default()
        }
    }

    #[test]
    fn collection_has_a_cosine_dense_vector_and_an_idf_sparse_one() {
        let c = create_collection("docs", 384);
        assert_eq!(c.collection_name, "docs");
        let Some(Config::ParamsMap(m)) = c.vectors_config.and_then(|v| v.config) else {
            panic!("named vectors expected");
        };
        assert_eq!(m.map.len(), 1);
        assert_eq!(m.map[DENSE].size, 384);
        assert_eq!(m.map[DENSE].distance, Distance::Cosine as i32);
        let sparse = c.sparse_vectors_config.unwrap();
        assert_eq!(sparse.map.len(), 1);
        assert_eq!(sparse.map[BM25].modifier, Some(Modifier::Idf as i32));
    }

    #[test]
    fn the_layout_check_accepts_ours_and_explains_the_rest() {
        let ours = params(Some((384, Distance::Cosine)), Some(Some(Modifier::Idf)));
        assert_eq!(check_layout("docs", Some(&ours), 384), Ok(()));
        let e = check_layout("docs", Some(&ours), 768).unwrap_err();
        assert!(e.contains("384-dim") && e.contains("768-dim"), "{e}");
        let old = CollectionParams {
            vectors_config: Some(QVectorsConfig {
                config: Some(Config::Params(
                    VectorParamsBuilder::new(384, Distance::Cosine).build(),
                )),
            }),
            ..CollectionParams::default()
        };
        let e = check_layout("docs", Some(&old), 384).unwrap_err();
        assert!(
            e.contains("old layout") && e.contains("_v2") && e.contains("docfleet enqueue"),
            "{e}"
        );
        let e = check_layout(
            "docs",
            Some(&params(Some((384, Distance::Cosine)), None)),
            384,
        )
        .unwrap_err();
        assert!(e.contains("no sparse vector") && e.contains("_v2"), "{e}");
        let e = check_layout(
            "docs",
            Some(&params(Some((384, Distance::Cosine)), Some(None))),
            384,
        )
        .unwrap_err();
        assert!(e.contains("IDF"), "{e}");
        let e = check_layout(
            "docs",
            Some(&params(
                Some((384, Distance::Dot)),
                Some(Some(Modifier::Idf)),
            )),
            384,
        )
        .unwrap_err();
        assert!(e.contains("cosine"), "{e}");
        let e =
            check_layout("docs", Some(&params(None, Some(Some(Modifier::Idf)))), 384).unwrap_err();
        assert!(e.contains("no dense vector"), "{e}");
        assert!(check_layout("docs", None, 384).is_err());
    }

    #[test]
    fn payload_indexes_cover_the_tenant_and_every_filter_and_facet_field() {
        let idx = payload_indexes("docs");
        let names: Vec<_> = idx.iter().map(|i| i.field_name.as_str()).collect();
        assert_eq!(
            names,
            [
                TENANT,
                DOC_ID,
                CHUNK_INDEX,
                MEDIA_TYPE,
                TAG_PAIRS,
                SOURCE_FOLDERS,
                PAGE_START,
                PAGE_END
            ]
        );
        assert!(
            idx.iter()
                .all(|i| i.wait == Some(true) && i.collection_name == "docs")
        );
        let tenant_params = idx[0]
            .field_index_params
            .clone()
            .and_then(|p| p.index_params);
        let Some(IndexParams::KeywordIndexParams(k)) = tenant_params else {
            panic!("keyword params expected on tenant");
        };
        assert_eq!(k.is_tenant, Some(true));
        for i in [1, 3, 4, 5] {
            assert_eq!(
                idx[i].field_type,
                Some(FieldType::Keyword as i32),
                "{}",
                names[i]
            );
        }
        assert_eq!(idx[2].field_type, Some(FieldType::Integer as i32));
        for i in [6, 7] {
            assert_eq!(idx[i].field_type, Some(FieldType::Integer as i32));
            let Some(IndexParams::IntegerIndexParams(p)) = idx[i]
                .field_index_params
                .clone()
                .and_then(|p| p.index_params)
            else {
                panic!("integer params expected on {}", names[i]);
            };
            assert_eq!(p.range, Some(true), "{}", names[i]);
        }
    }

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

    fn full_filter() -> Filter {
        Filter {
            tenant: "acme".into(),
            doc_id: Some("d1".into()),
            source_prefix: Some("s3://b/My Reports/".into()),
            media_types: vec!["application/pdf".into(), "text/html".into()],
            pages: Some((3, 7)),
            tags: BTreeMap::from([
                ("team".into(), "legal".into()),
                ("year".into(), "2024".into()),
            ]),
        }
    }

    #[test]
    fn every_filter_field_becomes_a_condition() {
        let q = scope(&full_filter());
        assert!(q.should.is_empty() && q.must_not.is_empty());
        assert_eq!(
            fields(&q.must),
            pairs(&[
                ("tenant", "acme"),
                ("doc_id", "d1"),
                // A folder with a space stays a keyword match (not the client's text match).
                ("source_folders", "s3://b/My Reports/"),
                ("media_type", "any of application/pdf,text/html"),
                ("tag_pairs", "team=legal"),
                ("tag_pairs", "year=2024"),
            ])
        );
        // Overlap: page_start <= last and page_end >= first.
        assert_eq!(
            ranges(&q.must),
            [
                ("page_start".to_owned(), None, Some(7.0)),
                ("page_end".to_owned(), Some(3.0), None)
            ]
        );
        assert_eq!(q.must.len(), 8);
    }

    #[test]
    fn the_qdrant_filter_agrees_with_filter_matches() {
        // Evaluates the built conditions on a payload the way Qdrant does (keyword lists match
        // when any element does), against the reference semantics.
        fn holds(c: &Condition, p: &ChunkPayload) -> bool {
            let Some(ConditionOneOf::Field(f)) = &c.condition_one_of else {
                panic!("field conditions only");
            };
            let values: Vec<String> = match f.key.as_str() {
                TENANT => vec![p.tenant.clone()],
                DOC_ID => vec![p.doc_id.clone()],
                MEDIA_TYPE => vec![p.media_type.clone()],
                SOURCE_FOLDERS => crate::index::query::source_folders(&p.source)
                    .map(str::to_owned)
                    .collect(),
                TAG_PAIRS => p.tags.iter().map(|(k, v)| tag_pair(k, v)).collect(),
                CHUNK_INDEX => vec![p.chunk_index.to_string()],
                PAGE_START | PAGE_END => {
                    let n = f64::from(if f.key == PAGE_START {
                        p.page_start
                    } else {
                        p.page_end
                    });
                    let r = f.range.as_ref().unwrap();
                    return r.gte.is_none_or(|g| n >= g) && r.lte.is_none_or(|l| n <= l);
                }
                other => panic!("unexpected key {other}"),
            };
            match f.r#match.as_ref().and_then(|m| m.match_value.as_ref()) {
                Some(MatchValue::Keyword(k)) => values.contains(k),
                Some(MatchValue::Keywords(k)) => values.iter().any(|v| k.strings.contains(v)),
                other => panic!("unexpected match {other:?}"),
            }
        }
        let base = point(0).payload;
        let payloads: Vec<ChunkPayload> = [
            (
                "acme",
                "d1",
                "s3://b/My Reports/x.pdf",
                "application/pdf",
                1,
                3,
            ),
            (
                "acme",
                "d1",
                "s3://b/My Reports/2024/x.pdf",
                "text/html",
                7,
                9,
            ),
            (
                "acme",
                "d1",
                "s3://b/My Reports/x.pdf",
                "application/pdf",
                8,
                9,
            ),
            (
                "acme",
                "d1",
                "s3://b/My Reports/x.pdf",
                "application/pdf",
                1,
                2,
            ),
            (
                "acme",
                "d1",
                "s3://b/My Reportsx/x.pdf",
                "application/pdf",
                3,
                3,
            ),
            ("acme", "d1", "s3://b/x.pdf", "application/pdf", 3, 3),
            (
                "acme",
                "d2",
                "s3://b/My Reports/x.pdf",
                "application/pdf",
                3,
                3,
            ),
            ("acme", "d1", "s3://b/My Reports/x.pdf", "image/png", 3, 3),
            (
                "other",
                "d1",
                "s3://b/My Reports/x.pdf",
                "application/pdf",
                3,
                3,
            ),
        ]
        .into_iter()
        .flat_map(|(tenant, doc, source, media, start, end)| {
            let tagsets = [
                vec![("team", "legal"), ("year", "2024")],
                vec![("team", "legal"), ("year", "2024"), ("x", "y")],
                vec![("team", "legal")],
                vec![("team", "ops"), ("year", "2024")],
                vec![],
            ];
            let base = base.clone();
            tagsets.into_iter().map(move |tags| ChunkPayload {
                tenant: tenant.into(),
                doc_id: doc.into(),
                source: source.into(),
                media_type: media.into(),
                page_start: start,
                page_end: end,
                tags: tags
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ..base.clone()
            })
        })
        .collect();
        let full = full_filter();
        let filters = [
            full.clone(),
            full.without_pages(),
            Filter::tenant("acme"),
            Filter {
                media_types: vec!["image/png".into()],
                ..Filter::tenant("acme")
            },
            Filter {
                source_prefix: Some("s3://b/".into()),
                pages: Some((9, 9)),
                ..Filter::tenant("acme")
            },
        ];
        let mut matched = 0;
        for f in &filters {
            let q = scope(f);
            for p in &payloads {
                let got = q.must.iter().all(|c| holds(c, p));
                assert_eq!(got, f.matches(p), "{f:?} on {p:?}");
                matched += usize::from(got);
            }
        }
        assert!(matched > 0 && matched < filters.len() * payloads.len());
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
    fn facets_count_first_chunks_in_scope_without_the_page_range() {
        let f = full_filter();
        let [media, tags] = facet_requests("docs", &f, 5);
        assert_eq!(
            (media.key.as_str(), tags.key.as_str()),
            (MEDIA_TYPE, TAG_PAIRS)
        );
        for r in [&media, &tags] {
            assert_eq!(r.collection_name, "docs");
            assert_eq!(r.exact, Some(true));
            assert_eq!(r.limit, Some(MAX_FACET_VALUES));
            let filter = r.filter.clone().unwrap();
            assert!(ranges(&filter.must).is_empty(), "pages are ignored");
            let got = fields(&filter.must);
            assert_eq!(got.first(), Some(&("tenant".to_owned(), "acme".to_owned())));
            assert_eq!(
                got.last(),
                Some(&("chunk_index".to_owned(), "0".to_owned()))
            );
            assert_eq!(filter, doc_heads(&f));
        }
    }

    #[test]
    fn facet_hits_become_sorted_counts() {
        let hit = |v: &str, count: u64| FacetHit {
            value: Some(FacetValue {
                variant: Some(FacetVariant::StringValue(v.into())),
            }),
            count,
        };
        let hits = [
            hit("team=ops", 2),
            hit("year=2024", 5),
            hit("team=legal", 5),
            hit("a=b", 1),
            FacetHit {
                value: Some(FacetValue {
                    variant: Some(FacetVariant::IntegerValue(3)),
                }),
                count: 9,
            },
            FacetHit {
                value: None,
                count: 9,
            },
        ];
        let fc = |v: &str, count: u64| FacetCount {
            value: v.into(),
            count,
        };
        assert_eq!(
            facet_counts(&hits, 3),
            [fc("team=legal", 5), fc("year=2024", 5), fc("team=ops", 2)]
        );
        assert!(facet_counts(&hits, 0).is_empty());
        let got = facets(
            &[hit("application/pdf", 4), hit("text/html", 7)],
            &hits[..2],
            10,
        );
        assert_eq!(
            got,
            Facets {
                media_type: vec![fc("text/html", 7), fc("application/pdf", 4)],
                tags: vec![fc("year=2024", 5), fc("team=ops", 2)],
            }
        );
    }

    #[test]
    fn stale_chunks_are_the_documents_points_of_other_versions() {
        let keep = VersionKey {
            content_sha256: "abc".into(),
            pipeline_version: "p1".into(),
        };
        let f = stale("acme", "d1", &keep);
        assert_eq!(
            fields(&f.must),
            pairs(&[("tenant", "acme"), ("doc_id", "d1")])
        );
        let [not] = f.must_not.as_slice() else {
            panic!("one must_not expected");
        };
        let Some(ConditionOneOf::Filter(kept)) = &not.condition_one_of else {
            panic!("a nested filter expected");
        };
        assert_eq!(
            fields(&kept.must),
            pairs(&[("content_sha256", "abc"), ("pipeline_version", "p1")])
        );
        let d = delete("docs", f.clone());
        assert_eq!(d.wait, Some(true));
        assert!(matches!(
            d.points.and_then(|p| p.points_selector_one_of),
            Some(points_selector::PointsSelectorOneOf::Filter(got)) if got == f
        ));
        assert_eq!(count("docs", f).exact, Some(true));
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

    #[test]
    fn tenant_facet_is_exact() {
        let f = tenant_facet("docs");
        assert_eq!((f.key.as_str(), f.exact), (TENANT, Some(true)));
    }
}
