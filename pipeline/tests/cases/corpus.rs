//! The search corpus (four documents of one tenant, over two folders, two media types and
//! several tags) and the reference answers: the pure functions over the points in scope.

use docfleet_pipeline::doc::{doc_id, point_id};
use docfleet_pipeline::index::keyword::{self, InvertedIndex};
use docfleet_pipeline::index::{ChunkPayload, Filter, Point, SearchHit};

use super::{names, vector, version};

/// The search corpus: (source, media type, tags, chunks of (text, pages, vector axis)).
pub type CorpusDoc = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, (u32, u32), usize)],
);

pub const CORPUS: [CorpusDoc; 4] = [
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

pub fn corpus_points(tenant: &str) -> Vec<Point> {
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
                    media_type: media.into(),
                    tags: tags
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    text: text.into(),
                    model: "test".into(),
                    pipeline_version: v.pipeline_version.clone(),
                    ..ChunkPayload::default()
                },
            });
        }
    }
    out
}

/// What every backend must answer: the pure functions over the points in scope.
pub fn expected_keyword(points: &[Point], text: &str, filter: &Filter) -> Vec<SearchHit> {
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

pub fn expected_dense(points: &[Point], query: &[f32], filter: &Filter) -> Vec<SearchHit> {
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
pub fn assert_no_ties(hits: &[SearchHit], eps: f32, what: &str) {
    for w in hits.windows(2) {
        assert!(
            w[0].score - w[1].score > eps,
            "{what}: tie in the example {:?}",
            names(hits)
        );
    }
}
