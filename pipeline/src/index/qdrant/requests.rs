//! The Qdrant requests the adapter sends, built by pure functions so that their shape (filters,
//! payload indexes, batch sizes, `wait`) is unit-tested without a server.

use qdrant_client::qdrant::{
    Condition, CountPoints, CountPointsBuilder, CreateCollection, CreateCollectionBuilder,
    CreateFieldIndexCollection, CreateFieldIndexCollectionBuilder, DeletePoints,
    DeletePointsBuilder, Distance, FacetCounts, FacetCountsBuilder, FieldType, Filter as QFilter,
    IntegerIndexParamsBuilder, KeywordIndexParamsBuilder, PayloadIncludeSelector, PointId,
    PointStruct, Query, QueryPoints, QueryPointsBuilder, ScrollPoints, ScrollPointsBuilder,
    UpsertPoints, UpsertPointsBuilder, VectorParamsBuilder,
};

use super::payload::{
    CHUNK_COUNT, CHUNK_INDEX, CONTENT_SHA256, DOC_ID, PIPELINE_VERSION, TENANT, to_payload,
};
use crate::index::{Filter, Point, VersionKey};

/// Points per scroll page (doc_versions, stats).
pub const SCROLL_PAGE_POINTS: u32 = 1024;
/// Most tenants one facet request reports (stats of a shared collection).
pub const MAX_FACET_TENANTS: u64 = 100_000;

/// A collection of `dims`-dimensional vectors compared by cosine similarity.
pub fn create_collection(name: &str, dims: u64) -> CreateCollection {
    CreateCollectionBuilder::new(name)
        .vectors_config(VectorParamsBuilder::new(dims, Distance::Cosine))
        .build()
}

/// `tenant` is the tenant key (Qdrant co-locates a tenant's points and builds per-tenant HNSW
/// links), `doc_id` serves the per-document filters, `chunk_index` the stats' one-point-per-
/// document filter.
pub fn payload_indexes(name: &str) -> Vec<CreateFieldIndexCollection> {
    vec![
        CreateFieldIndexCollectionBuilder::new(name, TENANT, FieldType::Keyword)
            .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
            .wait(true)
            .build(),
        CreateFieldIndexCollectionBuilder::new(name, DOC_ID, FieldType::Keyword)
            .wait(true)
            .build(),
        CreateFieldIndexCollectionBuilder::new(name, CHUNK_INDEX, FieldType::Integer)
            .field_index_params(IntegerIndexParamsBuilder::new(true, false))
            .wait(true)
            .build(),
    ]
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
                    PointStruct::new(p.id.to_string(), p.vector.clone(), to_payload(&p.payload))
                })
                .collect();
            UpsertPointsBuilder::new(name, structs).wait(true).build()
        })
        .collect()
}

fn matches(key: &str, value: &str) -> Condition {
    Condition::matches(key, value.to_owned())
}

/// The tenant's points (and one document's, when given). Every read goes through here, so the
/// tenant condition is never missing.
pub fn scope(filter: &Filter) -> QFilter {
    let mut must = vec![matches(TENANT, &filter.tenant)];
    if let Some(doc_id) = &filter.doc_id {
        must.push(matches(DOC_ID, doc_id));
    }
    QFilter::must(must)
}

fn doc_scope(tenant: &str, doc_id: &str) -> QFilter {
    scope(&Filter {
        tenant: tenant.to_owned(),
        doc_id: Some(doc_id.to_owned()),
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
    let mut filter = scope(&Filter {
        tenant: tenant.to_owned(),
        doc_id: None,
    });
    filter.must.push(Condition::matches(CHUNK_INDEX, 0_i64));
    scroll(name, filter, &[CHUNK_COUNT], offset)
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

pub fn search(name: &str, query: &[f32], filter: &Filter, top_k: usize) -> QueryPoints {
    QueryPointsBuilder::new(name)
        .query(Query::new_nearest(query.to_vec()))
        .filter(scope(filter))
        .limit(u64::try_from(top_k).unwrap_or(u64::MAX))
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

#[cfg(test)]
mod tests {
    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::r#match::MatchValue;
    use qdrant_client::qdrant::payload_index_params::IndexParams;
    use qdrant_client::qdrant::vectors_config::Config;
    use qdrant_client::qdrant::{points_selector, with_payload_selector};
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
                text: "x".into(),
                model: "m".into(),
                pipeline_version: "p".into(),
            },
        }
    }

    #[test]
    fn collection_is_cosine_with_the_model_dimension() {
        let c = create_collection("docs", 384);
        assert_eq!(c.collection_name, "docs");
        let Some(Config::Params(p)) = c.vectors_config.and_then(|v| v.config) else {
            panic!("a single unnamed vector expected");
        };
        assert_eq!(p.size, 384);
        assert_eq!(p.distance, Distance::Cosine as i32);
    }

    #[test]
    fn tenant_is_the_tenant_key_and_doc_id_and_chunk_index_are_indexed() {
        let idx = payload_indexes("docs");
        let names: Vec<_> = idx.iter().map(|i| i.field_name.as_str()).collect();
        assert_eq!(names, [TENANT, DOC_ID, CHUNK_INDEX]);
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
        assert_eq!(idx[1].field_type, Some(FieldType::Keyword as i32));
        assert_eq!(idx[2].field_type, Some(FieldType::Integer as i32));
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
    fn every_read_is_scoped_to_the_tenant() {
        let f = Filter {
            tenant: "acme".into(),
            doc_id: None,
        };
        let q = search("docs", &[0.1, 0.2], &f, 5);
        assert_eq!(q.limit, Some(5));
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
