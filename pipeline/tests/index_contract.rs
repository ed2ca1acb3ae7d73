//! The `VectorIndex` contract, run against every adapter: the embedded index always, a Qdrant
//! server when `QDRANT_URL` (its gRPC URL, e.g. http://127.0.0.1:6334) is set; without it the
//! Qdrant tests print SKIPPED and pass. Each Qdrant test uses fresh collections and drops them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use docfleet_pipeline::doc::{doc_id, point_id};
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::keyword::{self, InvertedIndex};
use docfleet_pipeline::index::{
    ChunkPayload, FacetCount, Facets, Filter, Fusion, Point, SearchHit, TenantStats, VectorIndex,
    VersionKey,
};

const DIMS: usize = 8;

/// A unit-ish vector pointing mostly along axis `i`.
fn vector(i: usize) -> Vec<f32> {
    (0..DIMS)
        .map(|d| {
            if d == i % DIMS {
                1.0
            } else {
                0.01 * (d + 1) as f32
            }
        })
        .collect()
}

fn version(sha: &str) -> VersionKey {
    VersionKey {
        content_sha256: sha.repeat(64 / sha.len()),
        pipeline_version: "p1".into(),
    }
}

/// `chunks` points of one document version.
fn doc_points(tenant: &str, source: &str, v: &VersionKey, chunks: u32) -> (String, Vec<Point>) {
    let doc = doc_id(tenant, source);
    let points = (0..chunks)
        .map(|i| Point {
            id: point_id(tenant, &doc, i),
            vector: vector(i as usize),
            payload: ChunkPayload {
                tenant: tenant.into(),
                doc_id: doc.clone(),
                source: source.into(),
                content_sha256: v.content_sha256.clone(),
                chunk_index: i,
                chunk_count: chunks,
                page_start: 1,
                page_end: 1,
                page_label: None,
                ocr_pages: Vec::new(),
                ocr_confidence: None,
                media_type: "application/pdf".into(),
                tags: BTreeMap::new(),
                text: format!("chunk {i} of {source}"),
                model: "test".into(),
                pipeline_version: v.pipeline_version.clone(),
            },
        })
        .collect();
    (doc, points)
}

fn scope(tenant: &str) -> Filter {
    Filter::tenant(tenant)
}

/// Writes, re-writes, replaces a version, searches, counts and deletes, checking each step.
async fn contract(index: Arc<dyn VectorIndex>) {
    index.ensure_collection(DIMS).await.unwrap();
    index.ensure_collection(DIMS).await.unwrap();
    let other_dims = index.ensure_collection(DIMS + 1).await.unwrap_err();
    assert!(!other_dims.is_retryable(), "{other_dims}");

    // 300 points: several upsert batches.
    let v1 = version("a1");
    let (doc, points) = doc_points("acme", "s3://b/big.pdf", &v1, 300);
    index.upsert(points.clone()).await.unwrap();
    let (small, small_points) = doc_points("acme", "s3://b/small.pdf", &v1, 2);
    index.upsert(small_points).await.unwrap();
    let (_, globex_points) = doc_points("globex", "s3://b/big.pdf", &v1, 3);
    index.upsert(globex_points).await.unwrap();

    // The same points again: overwritten, not duplicated.
    index.upsert(points.clone()).await.unwrap();
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].chunk_count, versions[0].points), (300, 300));
    assert_eq!(versions[0].key, v1);

    let stats = index.stats().await.unwrap();
    let expect = |tenant: &str, documents, chunks, points| TenantStats {
        tenant: tenant.into(),
        documents,
        chunks,
        points,
    };
    assert_eq!(
        stats,
        [expect("acme", 2, 302, 302), expect("globex", 1, 3, 3)]
    );

    // Search: best first, cosine in [-1, 1], only the tenant's points.
    let hits = index.search(&vector(3), &scope("acme"), 5).await.unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        hits[0].score > 0.99 && hits[0].score <= 1.0 + 1e-5,
        "{}",
        hits[0].score
    );
    assert_eq!(hits[0].payload.chunk_index % DIMS as u32, 3);
    assert!(hits.iter().all(|h| h.payload.tenant == "acme"));
    let globex = index
        .search(&vector(3), &scope("globex"), 50)
        .await
        .unwrap();
    assert_eq!(globex.len(), 3);
    assert!(globex.iter().all(|h| h.payload.tenant == "globex"));
    assert!(
        index
            .search(&vector(3), &scope("nobody"), 5)
            .await
            .unwrap()
            .is_empty()
    );
    let one_doc = Filter {
        doc_id: Some(small.clone()),
        ..scope("acme")
    };
    let hits = index.search(&vector(0), &one_doc, 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.payload.doc_id == small));
    let hit = &hits[0];
    assert_eq!(hit.id, point_id("acme", &small, hit.payload.chunk_index));

    // A new version with fewer chunks: both are present until the stale one is deleted.
    let v2 = version("b2");
    let (_, new_points) = doc_points("acme", "s3://b/big.pdf", &v2, 120);
    index.upsert(new_points).await.unwrap();
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(
        index.delete_doc_except("acme", &doc, &v2).await.unwrap(),
        180
    );
    assert_eq!(index.delete_doc_except("acme", &doc, &v2).await.unwrap(), 0);
    let versions = index.doc_versions("acme", &doc).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].key.clone(), versions[0].points), (v2, 120));
    // Another tenant's document of the same source is untouched.
    assert_eq!(index.stats().await.unwrap()[1], expect("globex", 1, 3, 3));

    // Whole-document delete.
    assert_eq!(index.delete_doc("acme", &doc).await.unwrap(), 120);
    assert!(index.doc_versions("acme", &doc).await.unwrap().is_empty());
    assert_eq!(index.delete_doc("globex", &small).await.unwrap(), 0);
    assert_eq!(
        index.stats().await.unwrap(),
        [expect("acme", 1, 2, 2), expect("globex", 1, 3, 3)]
    );
}

/// The search corpus: (source, media type, tags, chunks of (text, pages, vector axis)).
type CorpusDoc = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, (u32, u32), usize)],
);

const CORPUS: [CorpusDoc; 4] = [
    (
        "s3://b/legal/contract.pdf",
        "application/pdf",
        &[("team", "legal")],
        &[(
            "The supplier contract for part XK-4471-b, signed in March.",
            (1, 2),
            0,
        )],
    ),
    (
        "s3://b/legal/memo.txt",
        "text/plain",
        &[("team", "legal"), ("year", "2024")],
        &[("Memo about the supplier.", (1, 1), 1)],
    ),
    (
        "s3://b/ops/log.txt",
        "text/plain",
        &[("team", "ops")],
        &[(
            "Error ERR_42 in the supplier portal; the supplier retried.",
            (1, 1),
            2,
        )],
    ),
    (
        "s3://b/ops/manual.pdf",
        "application/pdf",
        &[("team", "ops"), ("year", "2024")],
        &[
            ("Manual, chapter one: installing the portal.", (1, 3), 3),
            (
                "Manual, chapter two: contract terms of a portal supplier.",
                (4, 6),
                4,
            ),
        ],
    ),
];

fn corpus_points(tenant: &str) -> Vec<Point> {
    let v = version("c3");
    let mut out = Vec::new();
    for (source, media, tags, chunks) in CORPUS {
        let doc = doc_id(tenant, source);
        for (i, &(text, (first, last), axis)) in chunks.iter().enumerate() {
            out.push(Point {
                id: point_id(tenant, &doc, i as u32),
                vector: vector(axis),
                payload: ChunkPayload {
                    tenant: tenant.into(),
                    doc_id: doc.clone(),
                    source: source.into(),
                    content_sha256: v.content_sha256.clone(),
                    chunk_index: i as u32,
                    chunk_count: chunks.len() as u32,
                    page_start: first,
                    page_end: last,
                    page_label: None,
                    ocr_pages: Vec::new(),
                    ocr_confidence: None,
                    media_type: media.into(),
                    tags: tags
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    text: text.into(),
                    model: "test".into(),
                    pipeline_version: v.pipeline_version.clone(),
                },
            });
        }
    }
    out
}

/// (source, chunk index) of each hit: readable and the same on every backend.
fn names(hits: &[SearchHit]) -> Vec<(String, u32)> {
    hits.iter()
        .map(|h| (h.payload.source.clone(), h.payload.chunk_index))
        .collect()
}

fn name(source: &str, chunk: u32) -> (String, u32) {
    (source.to_owned(), chunk)
}

/// What every backend must answer: the pure functions over the points in scope.
fn expected_keyword(points: &[Point], text: &str, filter: &Filter) -> Vec<SearchHit> {
    let mut ix = InvertedIndex::default();
    for p in points {
        ix.insert(
            p.id,
            &p.payload.tenant,
            &keyword::doc_weights(&p.payload.text),
        );
    }
    let allow = |id: &uuid::Uuid| {
        points
            .iter()
            .any(|p| p.id == *id && filter.matches(&p.payload))
    };
    ix.search(&filter.tenant, &keyword::query_terms(text), allow, 100)
        .into_iter()
        .map(|(id, score)| {
            let p = points.iter().find(|p| p.id == id).unwrap();
            SearchHit {
                id,
                score,
                payload: p.payload.clone(),
            }
        })
        .collect()
}

fn expected_dense(points: &[Point], query: &[f32], filter: &Filter) -> Vec<SearchHit> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut hits: Vec<SearchHit> = points
        .iter()
        .filter(|p| filter.matches(&p.payload))
        .map(|p| SearchHit {
            id: p.id,
            score: p.vector.iter().zip(query).map(|(a, b)| a * b).sum::<f32>()
                / (norm(&p.vector) * norm(query)),
            payload: p.payload.clone(),
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    hits
}

/// No two neighbours within `eps`: the example's order does not hang on a tie-break.
fn assert_no_ties(hits: &[SearchHit], eps: f32, what: &str) {
    for w in hits.windows(2) {
        assert!(
            w[0].score - w[1].score > eps,
            "{what}: tie in the example {:?}",
            names(hits)
        );
    }
}

/// Keyword, hybrid, the full filter and facets on a small fixed corpus: exact orders.
async fn search_contract(index: Arc<dyn VectorIndex>) {
    index.ensure_collection(DIMS).await.unwrap();
    let points = corpus_points("acme");
    index.upsert(points.clone()).await.unwrap();
    // A redelivery: no duplicate hits.
    index.upsert(points.clone()).await.unwrap();
    let acme = scope("acme");
    let (contract, memo, log, manual) = (
        "s3://b/legal/contract.pdf",
        "s3://b/legal/memo.txt",
        "s3://b/ops/log.txt",
        "s3://b/ops/manual.pdf",
    );

    // Keyword: the identifier's only chunk; then BM25 order of a two-term query.
    let hits = index.keyword_search("XK-4471-b", &acme, 10).await.unwrap();
    assert_eq!(names(&hits), [name(contract, 0)]);
    assert!(hits[0].score > 0.0);
    let hits = index.keyword_search("ERR_42", &acme, 10).await.unwrap();
    assert_eq!(names(&hits), [name(log, 0)]);
    let text = "supplier contract";
    let hits = index.keyword_search(text, &acme, 10).await.unwrap();
    let want = expected_keyword(&points, text, &acme);
    assert_no_ties(&want, 1e-3, "keyword");
    // By hand: both terms in manual chunk 1 and the contract (9 and 12 terms: the shorter
    // first), then "supplier" (in 4 of 5 chunks: a low IDF) twice in the log, once in the memo;
    // manual chunk 0 has neither.
    assert_eq!(
        names(&want),
        [
            name(manual, 1),
            name(contract, 0),
            name(log, 0),
            name(memo, 0)
        ]
    );
    assert_eq!(names(&hits), names(&want));
    for (h, w) in hits.iter().zip(&want) {
        assert!(
            (h.score - w.score).abs() < 1e-3 * w.score.max(1.0),
            "{} vs {}",
            h.score,
            w.score
        );
        assert_eq!(h.payload, w.payload);
    }
    assert_eq!(
        names(&index.keyword_search(text, &acme, 2).await.unwrap()),
        [name(manual, 1), name(contract, 0)]
    );
    assert!(
        index
            .keyword_search("absent words", &acme, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Dense, then hybrid: weighted RRF of the two lists.
    let query: Vec<f32> = [0.2, 0.9, 0.1, 0.6, 0.3, 0.0, 0.0, 0.0].to_vec();
    let dense = index.search(&query, &acme, 10).await.unwrap();
    let want_dense = expected_dense(&points, &query, &acme);
    assert_no_ties(&want_dense, 1e-3, "dense");
    assert_eq!(
        names(&want_dense),
        [
            name(memo, 0),
            name(manual, 0),
            name(manual, 1),
            name(contract, 0),
            name(log, 0)
        ]
    );
    assert_eq!(names(&dense), names(&want_dense));
    let fusion = Fusion {
        dense_weight: 1.0,
        keyword_weight: 2.0,
        ..Fusion::default()
    };
    let hybrid = index
        .hybrid_search(&query, text, &acme, 4, &fusion)
        .await
        .unwrap();
    let want_hybrid = keyword::fuse(want_dense.clone(), want.clone(), &fusion, 5);
    assert_no_ties(&want_hybrid, 1e-5, "hybrid");
    // By hand: manual#1 1/63 + 2/61 = .04866, contract 1/64 + 2/62 = .04788, memo
    // 1/61 + 2/64 = .04764, log 1/65 + 2/63 = .04713, manual#0 1/62 (dense only).
    assert_eq!(
        names(&want_hybrid),
        [
            name(manual, 1),
            name(contract, 0),
            name(memo, 0),
            name(log, 0),
            name(manual, 0)
        ]
    );
    assert_eq!(names(&hybrid), names(&want_hybrid)[..4]);
    for (h, w) in hybrid.iter().zip(&want_hybrid) {
        assert!(
            (h.score - w.score).abs() < 1e-4,
            "{} vs {}",
            h.score,
            w.score
        );
    }

    // Filters, each on dense and keyword alike (keyword: chunks with "the" or "manual", i.e.
    // every chunk; dense: every chunk in scope).
    let every = "the manual";
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let cases = [
        (
            Filter {
                source_prefix: Some("s3://b/legal/".into()),
                ..acme.clone()
            },
            vec![name(contract, 0), name(memo, 0)],
        ),
        (
            Filter {
                // A folder, not a string prefix: `s3://b/leg` would match nothing.
                source_prefix: Some("s3://b/leg/".into()),
                ..acme.clone()
            },
            vec![],
        ),
        (
            Filter {
                media_types: vec!["text/plain".into()],
                ..acme.clone()
            },
            vec![name(log, 0), name(memo, 0)],
        ),
        (
            Filter {
                pages: Some((2, 4)),
                ..acme.clone()
            },
            vec![name(contract, 0), name(manual, 0), name(manual, 1)],
        ),
        (
            Filter {
                tags: tags(&[("team", "ops"), ("year", "2024")]),
                ..acme.clone()
            },
            vec![name(manual, 0), name(manual, 1)],
        ),
        (
            Filter {
                tags: tags(&[("year", "2024")]),
                media_types: vec!["text/plain".into(), "application/pdf".into()],
                source_prefix: Some("s3://b/".into()),
                pages: Some((1, 1)),
                ..acme.clone()
            },
            vec![name(manual, 0), name(memo, 0)],
        ),
    ];
    for (filter, want) in &cases {
        let mut want = want.clone();
        want.sort();
        let want = &want;
        let mut d = names(&index.search(&query, filter, 10).await.unwrap());
        d.sort();
        assert_eq!(&d, want, "dense {filter:?}");
        let mut k = names(&index.keyword_search(every, filter, 10).await.unwrap());
        k.sort();
        assert_eq!(&k, want, "keyword {filter:?}");
        let want_order = expected_keyword(&points, every, filter);
        assert_eq!(
            names(&index.keyword_search(every, filter, 10).await.unwrap()),
            names(&want_order),
            "keyword order {filter:?}"
        );
    }

    // Facets: documents, not chunks; pages ignored; sorted by count, then value.
    let count = |value: &str, count: u64| FacetCount {
        value: value.into(),
        count,
    };
    let facets = index.facets(&acme, 10).await.unwrap();
    assert_eq!(
        facets,
        Facets {
            media_type: vec![count("application/pdf", 2), count("text/plain", 2)],
            tags: vec![
                count("team=legal", 2),
                count("team=ops", 2),
                count("year=2024", 2)
            ],
        }
    );
    let legal_or_paged = Filter {
        source_prefix: Some("s3://b/ops/".into()),
        pages: Some((5, 5)),
        ..acme.clone()
    };
    assert_eq!(
        index.facets(&legal_or_paged, 2).await.unwrap(),
        Facets {
            media_type: vec![count("application/pdf", 1), count("text/plain", 1)],
            tags: vec![count("team=ops", 2), count("year=2024", 1)],
        }
    );
    assert_eq!(
        index.facets(&acme, 1).await.unwrap().tags,
        [count("team=legal", 2)]
    );

    // Another tenant with the same words: never in acme's results or counts.
    index.upsert(corpus_points("globex")).await.unwrap();
    let hits = index.keyword_search(text, &acme, 10).await.unwrap();
    assert!(hits.iter().all(|h| h.payload.tenant == "acme") && hits.len() == 4);
    let hits = index
        .hybrid_search(&query, text, &acme, 10, &fusion)
        .await
        .unwrap();
    assert!(hits.iter().all(|h| h.payload.tenant == "acme") && hits.len() == 5);
    assert_eq!(index.facets(&acme, 10).await.unwrap(), facets);
    let globex = index
        .keyword_search("XK-4471-b", &scope("globex"), 10)
        .await
        .unwrap();
    assert_eq!(names(&globex), [name(contract, 0)]);
    assert_eq!(globex[0].payload.tenant, "globex");
    assert_eq!(
        index.facets(&scope("nobody"), 10).await.unwrap(),
        Facets::default()
    );

    // A stale version's chunks leave keyword results with the vectors.
    let doc = doc_id("acme", manual);
    let v4 = version("d4");
    let mut new = corpus_points("acme")
        .into_iter()
        .filter(|p| p.payload.doc_id == doc && p.payload.chunk_index == 0)
        .collect::<Vec<_>>();
    new[0].payload.content_sha256 = v4.content_sha256.clone();
    new[0].payload.chunk_count = 1;
    new[0].payload.text = "Manual, rewritten: nothing else.".into();
    index.upsert(new).await.unwrap();
    assert_eq!(index.delete_doc_except("acme", &doc, &v4).await.unwrap(), 1);
    let hits = index
        .keyword_search("chapter manual", &acme, 10)
        .await
        .unwrap();
    assert_eq!(names(&hits), [name(manual, 0)]);
    assert_eq!(hits[0].payload.text, "Manual, rewritten: nothing else.");
}

#[tokio::test]
async fn embedded_index_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(EmbeddedIndex::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn embedded_index_keeps_the_search_contract() {
    let dir = tempfile::tempdir().unwrap();
    search_contract(Arc::new(EmbeddedIndex::open(dir.path()).unwrap())).await;
    // The same answers after a reopen (the keyword index is rebuilt from the stored payloads).
    let dir2 = tempfile::tempdir().unwrap();
    let before = {
        let index = EmbeddedIndex::open(dir2.path()).unwrap();
        index.ensure_collection(DIMS).await.unwrap();
        index.upsert(corpus_points("acme")).await.unwrap();
        index
            .keyword_search("supplier contract", &scope("acme"), 10)
            .await
            .unwrap()
    };
    let reopened = EmbeddedIndex::open(dir2.path()).unwrap();
    let hits = reopened
        .keyword_search("supplier contract", &scope("acme"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 4);
    assert_eq!(hits, before);
}

#[cfg(feature = "qdrant")]
mod qdrant {
    use super::*;
    use docfleet_pipeline::index::qdrant::{QdrantConfig, QdrantIndex, Tenancy};
    use qdrant_client::Qdrant;

    fn url() -> Option<String> {
        let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!(
                "SKIPPED: the Qdrant suite needs a server; set QDRANT_URL to its gRPC URL \
                 (e.g. http://127.0.0.1:6334) to run it"
            );
        }
        url
    }

    fn config(url: &str, tenancy: Tenancy) -> QdrantConfig {
        QdrantConfig {
            url: url.into(),
            api_key: std::env::var("QDRANT_API_KEY").ok(),
            collection: format!(
                "docfleet_test_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            tenancy,
            // Small batches, so 300 points take several requests in parallel.
            upsert_batch_points: 64,
            upsert_parallelism: 4,
            timeout_secs: 30,
            max_attempts: 3,
        }
    }

    /// Drops the collections the test made (`<name>` and `<name>_*`).
    async fn cleanup(url: &str, cfg: &QdrantConfig) {
        let client = Qdrant::from_url(url)
            .api_key(cfg.api_key.clone())
            .skip_compatibility_check()
            .build()
            .unwrap();
        for c in client.list_collections().await.unwrap().collections {
            if c.name == cfg.collection || c.name.starts_with(&format!("{}_", cfg.collection)) {
                client.delete_collection(c.name).await.unwrap();
            }
        }
    }

    async fn run(tenancy: Tenancy) {
        run_suite(tenancy, false).await;
    }

    /// `search`: the keyword, hybrid, filter and facet suite instead of the write suite.
    async fn run_suite(tenancy: Tenancy, search: bool) {
        let Some(url) = url() else { return };
        let cfg = config(&url, tenancy);
        let index: Arc<dyn VectorIndex> = Arc::new(QdrantIndex::connect(cfg.clone()).unwrap());
        // Run first, clean up whatever happened, then report.
        let outcome = if search {
            tokio::spawn(search_contract(index)).await
        } else {
            tokio::spawn(contract(index)).await
        };
        cleanup(&url, &cfg).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[tokio::test]
    async fn qdrant_refuses_a_collection_of_another_dimension() {
        let Some(url) = url() else { return };
        let cfg = config(&url, Tenancy::Shared);
        let first = QdrantIndex::connect(cfg.clone()).unwrap();
        first.ensure_collection(DIMS).await.unwrap();
        // Another process (a worker with another model) on the same collection.
        let other = QdrantIndex::connect(cfg.clone()).unwrap();
        let e = other.ensure_collection(DIMS + 1).await.unwrap_err();
        cleanup(&url, &cfg).await;
        assert!(!e.is_retryable(), "{e}");
        assert!(e.to_string().contains("holds 8-dim vectors"), "{e}");
    }

    #[tokio::test]
    async fn qdrant_shared_collection_keeps_the_contract() {
        run(Tenancy::Shared).await;
    }

    #[tokio::test]
    async fn qdrant_collection_per_tenant_keeps_the_contract() {
        run(Tenancy::PerTenant).await;
    }

    #[tokio::test]
    async fn qdrant_shared_collection_keeps_the_search_contract() {
        run_suite(Tenancy::Shared, true).await;
    }

    #[tokio::test]
    async fn qdrant_collection_per_tenant_keeps_the_search_contract() {
        run_suite(Tenancy::PerTenant, true).await;
    }
}
