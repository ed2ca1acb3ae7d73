//! Facet requests (documents per media type and per tag, points per tenant) and the counts
//! read from their answers, in the embedded index's order.

use std::collections::BTreeMap;

use qdrant_client::qdrant::facet_value::Variant as FacetVariant;
use qdrant_client::qdrant::{FacetCounts, FacetCountsBuilder, FacetHit};

use super::filters::doc_heads;
use super::payload::{MEDIA_TYPE, TAG_PAIRS, TENANT};
use super::requests::limit;
use crate::index::{FacetCount, Facets, Filter};

/// Most tenants one facet request reports (stats of a shared collection).
pub const MAX_FACET_TENANTS: u64 = 100_000;
/// Values one facet request asks for: more than the caller's `limit`, so that the cut after
/// sorting (count desc, value asc) picks the same values as the embedded index even where
/// counts tie at the cut; exact unless more than this many values exist.
pub const MAX_FACET_VALUES: u64 = 10_000;

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
    use qdrant_client::qdrant::FacetValue;

    use super::super::test_support::{fields, full_filter, ranges};
    use super::*;

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
    fn tenant_facet_is_exact() {
        let f = tenant_facet("docs");
        assert_eq!((f.key.as_str(), f.exact), (TENANT, Some(true)));
    }
}
