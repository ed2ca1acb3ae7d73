//! Keyword search, the full filter and facets of the embedded index.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::index::{ChunkPayload, FacetCount};

const DIMS: usize = 4;

struct Doc {
    doc: &'static str,
    source: &'static str,
    media: &'static str,
    tags: &'static [(&'static str, &'static str)],
    sha: &'static str,
    /// (text, first page, last page) per chunk.
    chunks: &'static [(&'static str, u32, u32)],
}

fn points(tenant: &str, d: &Doc) -> Vec<Point> {
    let tags: BTreeMap<String, String> = d
        .tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    d.chunks
        .iter()
        .enumerate()
        .map(|(i, &(text, first, last))| {
            let mut vector = vec![0.1; DIMS];
            vector[i % DIMS] = 1.0;
            Point {
                id: crate::doc::point_id(tenant, d.doc, i as u32),
                vector,
                payload: ChunkPayload {
                    tenant: tenant.into(),
                    doc_id: d.doc.into(),
                    source: d.source.into(),
                    content_sha256: d.sha.into(),
                    chunk_index: i as u32,
                    chunk_count: d.chunks.len() as u32,
                    page_start: first,
                    page_end: last,
                    media_type: d.media.into(),
                    tags: tags.clone(),
                    text: text.into(),
                    model: "m".into(),
                    pipeline_version: "p1".into(),
                    ..ChunkPayload::default()
                },
            }
        })
        .collect()
}

const REPORT: Doc = Doc {
    doc: "report",
    source: "s3://b/reports/2024/q1.pdf",
    media: "application/pdf",
    tags: &[("team", "legal"), ("year", "2024")],
    sha: "s1",
    chunks: &[
        ("Quarterly report on the widget supply chain.", 1, 2),
        ("The part XK-4471-b failed twice in March.", 3, 3),
        ("Widget costs rose in the supply chain.", 4, 5),
    ],
};
const MEMO: Doc = Doc {
    doc: "memo",
    source: "s3://b/reports/memo.docx",
    media: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    tags: &[("team", "legal")],
    sha: "s1",
    chunks: &[
        ("Memo about widget supply and the part XK-4471.", 1, 1),
        ("Nothing else in this memo.", 2, 2),
    ],
};
const NOTES: Doc = Doc {
    doc: "notes",
    source: "s3://b/reportsX/notes.txt",
    media: "text/plain",
    tags: &[("team", "ops"), ("year", "2024")],
    sha: "s1",
    chunks: &[("Widget notes: supply chain widget widget.", 1, 1)],
};

async fn seeded(dir: &Path) -> EmbeddedIndex {
    let idx = EmbeddedIndex::open(dir).unwrap();
    idx.ensure_collection(DIMS).await.unwrap();
    for d in [&REPORT, &MEMO, &NOTES] {
        idx.upsert(points("t1", d)).await.unwrap();
    }
    // Another tenant with the same words: never in t1's results.
    idx.upsert(points("t2", &REPORT)).await.unwrap();
    idx
}

fn keys(hits: &[SearchHit]) -> Vec<(String, u32)> {
    hits.iter()
        .map(|h| (h.payload.doc_id.clone(), h.payload.chunk_index))
        .collect()
}

fn key(doc: &str, chunk: u32) -> (String, u32) {
    (doc.to_owned(), chunk)
}

#[tokio::test]
async fn keyword_finds_an_exact_identifier_first() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    let t1 = Filter::tenant("t1");
    let hits = idx.keyword_search("XK-4471-b", &t1, 10).await.unwrap();
    // The whole identifier only in the report; the memo shares "xk" and "4471".
    assert_eq!(keys(&hits), [key("report", 1), key("memo", 0)]);
    assert!(hits[0].score > hits[1].score && hits[1].score > 0.0);
    assert!(hits.iter().all(|h| h.payload.tenant == "t1"));
    assert!(
        idx.keyword_search("nonexistent", &t1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(idx.keyword_search("", &t1, 10).await.unwrap().is_empty());
    assert!(
        idx.keyword_search("widget", &Filter::tenant("nobody"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Term frequency counts: "widget" three times in the notes.
    let hits = idx.keyword_search("widget", &t1, 2).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(keys(&hits)[0], key("notes", 0));
    // Hybrid through the trait's default: the identifier's chunk leads there too.
    let hybrid = idx
        .hybrid_search(
            &[0.1, 1.0, 0.1, 0.1],
            "XK-4471-b",
            &t1,
            3,
            &crate::index::Fusion::default(),
        )
        .await
        .unwrap();
    assert_eq!(keys(&hybrid)[0], key("report", 1));
}

#[tokio::test]
async fn redelivery_does_not_duplicate_keyword_hits() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    let t1 = Filter::tenant("t1");
    let before = idx.keyword_search("widget supply", &t1, 50).await.unwrap();
    for _ in 0..3 {
        idx.upsert(points("t1", &REPORT)).await.unwrap();
    }
    let after = idx.keyword_search("widget supply", &t1, 50).await.unwrap();
    assert_eq!(keys(&after), keys(&before));
    assert_eq!(after.len(), 4);
    for (a, b) in after.iter().zip(&before) {
        assert!((a.score - b.score).abs() < 1e-6);
    }
}

#[tokio::test]
async fn delete_doc_except_removes_stale_chunks_from_keyword_results() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    let t1 = Filter::tenant("t1");
    // A new version of the report: one chunk, without the identifier.
    let v2 = Doc {
        sha: "s2",
        chunks: &[("Revised report: all parts pass.", 1, 1)],
        ..REPORT
    };
    idx.upsert(points("t1", &v2)).await.unwrap();
    let keep = VersionKey {
        content_sha256: "s2".into(),
        pipeline_version: "p1".into(),
    };
    assert_eq!(
        idx.delete_doc_except("t1", "report", &keep).await.unwrap(),
        2
    );
    let hits = idx.keyword_search("XK-4471-b", &t1, 10).await.unwrap();
    assert_eq!(keys(&hits), [key("memo", 0)]);
    // Chunk 0 was overwritten by the new version: its new text is found, the old one not.
    let hits = idx
        .keyword_search("revised quarterly", &t1, 10)
        .await
        .unwrap();
    assert_eq!(keys(&hits), [key("report", 0)]);
    assert_eq!(hits[0].payload.content_sha256, "s2");
    idx.delete_doc("t1", "memo").await.unwrap();
    assert!(
        idx.keyword_search("XK-4471-b", &t1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The other tenant's copy is untouched.
    let t2 = idx
        .keyword_search("XK-4471-b", &Filter::tenant("t2"), 10)
        .await
        .unwrap();
    assert_eq!(keys(&t2), [key("report", 1)]);
}

#[tokio::test]
async fn reopen_and_compaction_give_the_same_keyword_results() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    idx.upsert(points("t1", &REPORT)).await.unwrap();
    idx.delete_doc("t1", "notes").await.unwrap();
    let queries = ["XK-4471-b", "widget supply chain", "memo", "notes"];
    let t1 = Filter::tenant("t1");
    let mut before = Vec::new();
    for q in queries {
        before.push(idx.keyword_search(q, &t1, 10).await.unwrap());
    }
    let facets = idx.facets(&t1, 10).await.unwrap();
    drop(idx);
    // From the log alone.
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    for (q, want) in queries.iter().zip(&before) {
        assert_eq!(&idx.keyword_search(q, &t1, 10).await.unwrap(), want, "{q}");
    }
    assert_eq!(idx.facets(&t1, 10).await.unwrap(), facets);
    // From a snapshot, then a read-only reader.
    idx.compact().unwrap();
    drop(idx);
    let idx = EmbeddedIndex::open(dir.path()).unwrap();
    for (q, want) in queries.iter().zip(&before) {
        assert_eq!(&idx.keyword_search(q, &t1, 10).await.unwrap(), want, "{q}");
    }
    drop(idx);
    let ro = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    for (q, want) in queries.iter().zip(&before) {
        assert_eq!(&ro.keyword_search(q, &t1, 10).await.unwrap(), want, "{q}");
    }
    assert!(before[3].is_empty() && !before[0].is_empty());
}

fn count(value: &str, count: u64) -> FacetCount {
    FacetCount {
        value: value.into(),
        count,
    }
}

/// Each condition alone, on dense, keyword and facets alike.
#[tokio::test]
async fn every_filter_condition_scopes_dense_keyword_and_facets() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    let t1 = Filter::tenant("t1");
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    // (name, filter, chunks in scope, documents counted by the facets)
    type Case = (&'static str, Filter, Vec<(String, u32)>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "folder (at a path boundary: not reportsX/)",
            Filter {
                source_prefix: Some("s3://b/reports/".into()),
                ..t1.clone()
            },
            vec![
                key("memo", 0),
                key("memo", 1),
                key("report", 0),
                key("report", 1),
                key("report", 2),
            ],
            vec!["memo", "report"],
        ),
        (
            "nested folder",
            Filter {
                source_prefix: Some("s3://b/reports/2024/".into()),
                ..t1.clone()
            },
            vec![key("report", 0), key("report", 1), key("report", 2)],
            vec!["report"],
        ),
        (
            "media types (any)",
            Filter {
                media_types: vec!["text/plain".into(), "application/pdf".into()],
                ..t1.clone()
            },
            vec![
                key("notes", 0),
                key("report", 0),
                key("report", 1),
                key("report", 2),
            ],
            vec!["notes", "report"],
        ),
        (
            "pages overlap 2..=3",
            Filter {
                pages: Some((2, 3)),
                ..t1.clone()
            },
            vec![key("memo", 1), key("report", 0), key("report", 1)],
            // Facets ignore the page range.
            vec!["memo", "notes", "report"],
        ),
        (
            "tags AND",
            Filter {
                tags: tags(&[("team", "legal"), ("year", "2024")]),
                ..t1.clone()
            },
            vec![key("report", 0), key("report", 1), key("report", 2)],
            vec!["report"],
        ),
        (
            "one tag",
            Filter {
                tags: tags(&[("year", "2024")]),
                ..t1.clone()
            },
            vec![
                key("notes", 0),
                key("report", 0),
                key("report", 1),
                key("report", 2),
            ],
            vec!["notes", "report"],
        ),
        (
            "tag with another value",
            Filter {
                tags: tags(&[("team", "finance")]),
                ..t1.clone()
            },
            vec![],
            vec![],
        ),
        (
            "document and pages",
            Filter {
                doc_id: Some("report".into()),
                pages: Some((5, 9)),
                ..t1.clone()
            },
            vec![key("report", 2)],
            vec!["report"],
        ),
    ];
    let docs_of = |d: &str| -> Doc {
        match d {
            "report" => REPORT,
            "memo" => MEMO,
            _ => NOTES,
        }
    };
    for (name, filter, want, want_docs) in cases {
        let mut dense = keys(
            &idx.search(&[1.0, 1.0, 1.0, 1.0], &filter, 100)
                .await
                .unwrap(),
        );
        dense.sort();
        assert_eq!(dense, want, "dense: {name}");
        // Every chunk of the corpus says one of these words.
        let mut kw = keys(
            &idx.keyword_search("widget nothing part memo", &filter, 100)
                .await
                .unwrap(),
        );
        kw.sort();
        assert_eq!(kw, want, "keyword: {name}");
        let facets = idx.facets(&filter, 10).await.unwrap();
        let total: u64 = facets.media_type.iter().map(|c| c.count).sum();
        assert_eq!(total, want_docs.len() as u64, "facets: {name} {facets:?}");
        for d in want_docs {
            let media = docs_of(d).media;
            assert!(
                facets.media_type.iter().any(|c| c.value == media),
                "facets: {name}: {d}"
            );
        }
    }
}

#[tokio::test]
async fn facet_counts_are_documents_sorted_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let idx = seeded(dir.path()).await;
    let t1 = Filter::tenant("t1");
    let f = idx.facets(&t1, 10).await.unwrap();
    // Three documents (six chunks); the report's three chunks count once.
    assert_eq!(
        f.media_type,
        [
            count("application/pdf", 1),
            count(MEMO.media, 1),
            count("text/plain", 1)
        ]
    );
    assert_eq!(
        f.tags,
        [
            count("team=legal", 2),
            count("year=2024", 2),
            count("team=ops", 1)
        ]
    );
    let f = idx.facets(&t1, 1).await.unwrap();
    assert_eq!(f.media_type, [count("application/pdf", 1)]);
    assert_eq!(f.tags, [count("team=legal", 2)]);
    // Pages are ignored: a page range that only the memo's chunk 1 overlaps still counts every
    // document in scope.
    let paged = Filter {
        pages: Some((2, 2)),
        ..t1.clone()
    };
    assert_eq!(
        idx.facets(&paged, 10).await.unwrap(),
        idx.facets(&t1, 10).await.unwrap()
    );
    // A redelivery and a second version in flight do not double-count.
    idx.upsert(points("t1", &REPORT)).await.unwrap();
    idx.upsert(points(
        "t1",
        &Doc {
            sha: "s2",
            ..REPORT
        },
    ))
    .await
    .unwrap();
    assert_eq!(
        idx.facets(&t1, 10).await.unwrap().tags[0],
        count("team=legal", 2)
    );
    assert_eq!(
        idx.facets(&Filter::tenant("t2"), 10).await.unwrap().tags,
        [count("team=legal", 1), count("year=2024", 1)]
    );
    assert_eq!(
        idx.facets(&Filter::tenant("nobody"), 10).await.unwrap(),
        Facets::default()
    );
}
