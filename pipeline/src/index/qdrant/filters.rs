//! Every read's scope as a Qdrant filter: the tenant condition always, then each [`Filter`]
//! field the way [`Filter::matches`] reads it; and the derived scopes (a document's first chunks,
//! the points of its other versions).

use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::{Condition, Filter as QFilter, Range, RepeatedStrings};

use super::payload::{
    CHUNK_INDEX, CONTENT_SHA256, DOC_ID, MEDIA_TYPE, PAGE_END, PAGE_START, PIPELINE_VERSION,
    SOURCE_FOLDERS, TAG_PAIRS, TENANT, tag_pair,
};
use crate::index::{Filter, VersionKey};

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

/// The points of one document, all versions.
pub(super) fn doc_scope(tenant: &str, doc_id: &str) -> QFilter {
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

#[cfg(test)]
mod tests {

    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::points_selector;

    use super::super::requests::{count, delete};
    use super::super::test_support::{fields, full_filter, pairs, point, ranges};
    use super::*;
    use crate::index::ChunkPayload;

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
}
