//! Keyword, hybrid, the full filter and facets on the corpus: exact orders and scores.

use std::collections::BTreeMap;
use std::sync::Arc;

use docfleet_pipeline::doc::doc_id;
use docfleet_pipeline::index::keyword;
use docfleet_pipeline::index::{FacetCount, Facets, Filter, Fusion, VectorIndex};

use super::corpus::{assert_no_ties, corpus_points, expected_dense, expected_keyword};
use super::{DIMS, name, names, scope, version};

/// Keyword, hybrid, the full filter and facets on a small fixed corpus: exact orders.
pub async fn search_contract(index: Arc<dyn VectorIndex>) {
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
