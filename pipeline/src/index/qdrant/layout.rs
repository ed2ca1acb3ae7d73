//! The collection layout docfleet makes and expects: named vectors `dense` (the embedding,
//! cosine) and the sparse `bm25` (IDF on the server), and the payload indexes the filters and
//! facets need; the check of an existing collection against it.

use qdrant_client::qdrant::vectors_config::Config as VectorsConfig;
use qdrant_client::qdrant::{
    CollectionParams, CreateCollection, CreateCollectionBuilder, CreateFieldIndexCollection,
    CreateFieldIndexCollectionBuilder, Distance, FieldType, IntegerIndexParamsBuilder,
    KeywordIndexParamsBuilder, Modifier, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    VectorParamsBuilder, VectorsConfigBuilder,
};

use super::payload::{
    CHUNK_INDEX, DOC_ID, MEDIA_TYPE, PAGE_END, PAGE_START, SOURCE_FOLDERS, TAG_PAIRS, TENANT,
};

/// The named dense vector: the embedding, cosine.
pub const DENSE: &str = "dense";
/// The named sparse vector: BM25 document weights ([`keyword::doc_weights`]), IDF on the server.
pub const BM25: &str = "bm25";

/// How to migrate a collection of the old layout (one unnamed vector), for error messages.
pub const MIGRATE_HINT: &str = "create a collection with the new layout and re-index into it: \
     set DOCFLEET_QDRANT_COLLECTION=<collection>_v2 and `docfleet enqueue` the sources again \
     (or delete this collection and re-index); see docs/qdrant-hybrid.md";

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use qdrant_client::qdrant::payload_index_params::IndexParams;
    use qdrant_client::qdrant::vectors_config::Config;
    use qdrant_client::qdrant::{
        SparseVectorConfig, SparseVectorParams, VectorParams, VectorParamsMap,
        VectorsConfig as QVectorsConfig,
    };

    use super::*;

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
}
