//! `docfleet search "<query>"`: the best chunks of the tenant's documents.

use std::collections::BTreeMap;

use anyhow::Result;
use docfleet_models::Embedder;
use docfleet_pipeline::index::{FacetCount, Filter, Fusion, SearchHit, keyword};
use docfleet_pipeline::search::SearchRequest;
use serde::Serialize;

use crate::cli::SearchOpts;
use crate::settings::CommonOpts;
use crate::wiring::{self, IndexAccess};

/// Characters of a hit's snippet.
const SNIPPET_CHARS: usize = 240;

#[derive(Debug, Serialize)]
pub struct HitView<'a> {
    rank: usize,
    score: f32,
    doc_id: &'a str,
    source: &'a str,
    page_start: u32,
    page_end: u32,
    /// "slide 3", "sheet Budget": how the span is named where page numbers would mislead.
    #[serde(skip_serializing_if = "Option::is_none")]
    page_label: Option<&'a str>,
    /// Pages of the span read by OCR, and Tesseract's mean confidence over them.
    #[serde(skip_serializing_if = "<[u32]>::is_empty")]
    ocr_pages: &'a [u32],
    #[serde(skip_serializing_if = "Option::is_none")]
    ocr_confidence: Option<u8>,
    chunk_index: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    media_type: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: &'a BTreeMap<String, String>,
    /// The chunk around the query's terms, each wrapped in `**`.
    snippet: String,
    text: &'a str,
}

impl HitView<'_> {
    /// "page 2", "pages 2-3", "slide 3", plus "(OCR, confidence 91)" for recognised text.
    fn where_found(&self) -> String {
        let mut at = match self.page_label {
            Some(label) => label.to_owned(),
            None if self.page_start == self.page_end => format!("page {}", self.page_start),
            None => format!("pages {}-{}", self.page_start, self.page_end),
        };
        if let Some(confidence) = self.ocr_confidence {
            at.push_str(&format!(" (OCR, confidence {confidence})"));
        }
        at
    }
}

pub async fn search(
    common: &CommonOpts,
    query: &str,
    top_k: usize,
    opts: &SearchOpts,
    json: bool,
) -> Result<()> {
    let tenant = common.tenant()?.to_owned();
    let filter = filter(
        tenant,
        FilterSpec {
            doc_id: opts.doc.clone(),
            source_prefix: opts.source_prefix.clone(),
            media_types: opts.media_types.clone(),
            pages: opts.pages.as_deref().map(parse_pages).transpose()?,
            tags: opts.tags.iter().cloned().collect(),
        },
    )?;
    let request = SearchRequest {
        text: query.to_owned(),
        mode: opts.mode.mode(),
        filter,
        top_k,
        fusion: Fusion {
            dense_weight: opts.dense_weight,
            keyword_weight: opts.keyword_weight,
            ..Fusion::default()
        },
    };
    let index = wiring::open_index(common, IndexAccess::Read)?;
    let embed = |text: &str| -> docfleet_pipeline::Result<Vec<f32>> {
        let embedder = wiring::load_embedder(common, 4096)
            .map_err(|e| docfleet_pipeline::Error::EmbedLane(format!("{e:#}")))?;
        Ok(embedder.embed(&[text])?.remove(0))
    };
    let hits = docfleet_pipeline::search::search(index.as_ref(), embed, &request).await?;
    let facets = match opts.facets {
        true => Some(index.facets(&request.filter, 10).await?),
        false => None,
    };
    let views: Vec<HitView> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| view(i + 1, h, query))
        .collect();
    if json {
        let out = match &facets {
            Some(facets) => serde_json::json!({ "results": views, "facets": facets }),
            None => serde_json::to_value(&views)?,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if views.is_empty() {
        println!(
            "no results (is anything indexed for tenant {:?}? see `docfleet stats`)",
            common.tenant
        );
    }
    for v in &views {
        let pages = v.where_found();
        println!(
            "{:>2}. {:.4}  {}  {}  doc {}",
            v.rank,
            v.score,
            display_source(v.source),
            pages,
            v.doc_id
        );
        println!("    {}", v.snippet);
    }
    if let Some(facets) = facets {
        let line = |counts: &[FacetCount]| {
            counts
                .iter()
                .map(|c| format!("{} ({})", c.value, c.count))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("media types: {}", line(&facets.media_type));
        println!("tags: {}", line(&facets.tags));
    }
    Ok(())
}

/// The filter conditions a caller may set (the tenant is always the caller's).
#[derive(Debug, Default, Clone)]
pub struct FilterSpec {
    pub doc_id: Option<String>,
    pub source_prefix: Option<String>,
    pub media_types: Vec<String>,
    pub pages: Option<(u32, u32)>,
    pub tags: BTreeMap<String, String>,
}

/// The index filter for `tenant`, or what is wrong with the spec.
pub fn filter(tenant: String, spec: FilterSpec) -> Result<Filter, FilterError> {
    if let Some(prefix) = &spec.source_prefix
        && (!prefix.contains("://") || !prefix.ends_with('/'))
    {
        return Err(FilterError(format!(
            "source_prefix {prefix:?}: a folder URI ending with '/', e.g. s3://bucket/reports/"
        )));
    }
    if let Some((first, last)) = spec.pages
        && (first == 0 || first > last)
    {
        return Err(FilterError(format!(
            "pages {first}-{last}: first and last are page numbers from 1, first <= last"
        )));
    }
    for (k, v) in &spec.tags {
        docfleet_core::job::validate_tag(k, v).map_err(|e| FilterError(e.to_string()))?;
    }
    Ok(Filter {
        tenant,
        doc_id: spec.doc_id,
        source_prefix: spec.source_prefix,
        media_types: spec.media_types,
        pages: spec.pages,
        tags: spec.tags,
    })
}

/// A filter that cannot be applied, with what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// `3` or `2-5`.
fn parse_pages(pages: &str) -> Result<(u32, u32), FilterError> {
    let bad = || FilterError(format!("pages {pages:?}: expected N or FIRST-LAST"));
    let (a, b) = pages.split_once('-').unwrap_or((pages, pages));
    let first = a.trim().parse().map_err(|_| bad())?;
    let last = b.trim().parse().map_err(|_| bad())?;
    Ok((first, last))
}

/// A hit as shown: `query`'s terms are highlighted in its snippet.
pub fn view<'a>(rank: usize, h: &'a SearchHit, query: &str) -> HitView<'a> {
    let p = &h.payload;
    HitView {
        snippet: keyword::highlight(&p.text, query, SNIPPET_CHARS),
        media_type: &p.media_type,
        tags: &p.tags,
        rank,
        score: h.score,
        doc_id: &p.doc_id,
        source: &p.source,
        page_start: p.page_start,
        page_end: p.page_end,
        page_label: p.page_label.as_deref(),
        ocr_pages: &p.ocr_pages,
        ocr_confidence: p.ocr_confidence,
        chunk_index: p.chunk_index,
        text: &p.text,
    }
}

fn display_source(source: &str) -> &str {
    source.strip_prefix("file://").unwrap_or(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_before_any_search() {
        let ok = filter(
            "acme".into(),
            FilterSpec {
                source_prefix: Some("s3://b/reports/".into()),
                pages: Some(parse_pages("2-5").unwrap()),
                ..FilterSpec::default()
            },
        )
        .unwrap();
        assert_eq!(ok.pages, Some((2, 5)));
        assert_eq!(parse_pages("3").unwrap(), (3, 3));
        assert!(parse_pages("x").is_err());
        for spec in [
            FilterSpec {
                source_prefix: Some("s3://b/reports".into()),
                ..FilterSpec::default()
            },
            FilterSpec {
                pages: Some((5, 2)),
                ..FilterSpec::default()
            },
            FilterSpec {
                tags: [("Bad Key".to_owned(), "v".to_owned())].into(),
                ..FilterSpec::default()
            },
        ] {
            assert!(filter("acme".into(), spec).is_err());
        }
    }
}
