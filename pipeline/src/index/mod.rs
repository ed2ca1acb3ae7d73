//! The index lane's port: where vectors live and how they are searched.
//!
//! Adapters: [`embedded`] (on-disk, for local runs; the default) and `qdrant` (a Qdrant server,
//! behind the `qdrant` feature). Every write is idempotent: point ids are derived from
//! (tenant, doc_id, chunk_index), so a re-run overwrites instead of duplicating.

pub mod embedded;
pub mod keyword;
#[cfg(feature = "qdrant")]
pub mod qdrant;
pub mod query;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::query::{FacetCount, Facets, Filter, Fusion, SearchMode};
use crate::Result;

/// What is stored with every vector. `Default` is an empty payload (tests fill in what they need).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkPayload {
    pub tenant: String,
    pub doc_id: String,
    pub source: String,
    pub content_sha256: String,
    pub chunk_index: u32,
    /// Chunks of this document version: lets a reader tell a complete version from a partial one.
    pub chunk_count: u32,
    pub page_start: u32,
    pub page_end: u32,
    /// How the span is named where "pages N-M" would be wrong: "slide 3", "sheet Budget",
    /// "slide 3 – slide 4"; `None` for plain pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_label: Option<String>,
    /// Pages of the span whose text came from OCR.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocr_pages: Vec<u32>,
    /// Tesseract's mean confidence (0-100) over those pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_confidence: Option<u8>,
    /// The document's media type (`application/pdf`): a filter and a facet.
    #[serde(default)]
    pub media_type: String,
    /// The job's tags (`enqueue --tag team=legal`): filters and facets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub text: String,
    pub model: String,
    pub pipeline_version: String,
}

/// What a chunk's payload says about the pages it spans: their label and which were OCR'd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanInfo {
    pub page_label: Option<String>,
    pub ocr_pages: Vec<u32>,
    pub ocr_confidence: Option<u8>,
}

impl SpanInfo {
    /// For the pages numbered `start..=end` of `pages` (numbers are 1-based and dense).
    pub fn of(pages: &[crate::Page], start: u32, end: u32) -> Self {
        let span: Vec<&crate::Page> = pages
            .iter()
            .filter(|p| (start..=end).contains(&p.number))
            .collect();
        let page_label = match (span.first(), span.last()) {
            (Some(a), Some(b)) if span.iter().any(|p| p.label.is_some()) => {
                Some(span_name(&a.display_name(), &b.display_name()))
            }
            _ => None,
        };
        let ocr: Vec<(u32, u8)> = span
            .iter()
            .filter_map(|p| p.ocr_confidence.map(|c| (p.number, c)))
            .collect();
        let ocr_confidence = (!ocr.is_empty()).then(|| {
            let sum: u32 = ocr.iter().map(|&(_, c)| u32::from(c)).sum();
            u8::try_from(sum / ocr.len() as u32).unwrap_or(100)
        });
        Self {
            page_label,
            ocr_pages: ocr.into_iter().map(|(n, _)| n).collect(),
            ocr_confidence,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub payload: ChunkPayload,
}

/// One version of a document: its bytes and the pipeline that processed them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionKey {
    pub content_sha256: String,
    pub pipeline_version: String,
}

impl VersionKey {
    /// A key no stored version has (`content_sha256` is always 64 hex digits): keeping it
    /// deletes every version.
    pub fn none() -> Self {
        Self {
            content_sha256: String::new(),
            pipeline_version: String::new(),
        }
    }
}

/// The points of one document version present in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocVersion {
    pub key: VersionKey,
    pub chunk_count: u32,
    pub points: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: Uuid,
    /// Dense: cosine similarity in [-1, 1]; keyword: BM25; hybrid: the fused RRF score.
    pub score: f32,
    pub payload: ChunkPayload,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantStats {
    pub tenant: String,
    pub documents: u64,
    /// Sum of `chunk_count` over the documents' current versions.
    pub chunks: u64,
    pub points: u64,
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Creates the collection for vectors of `dims` dimensions, or checks that the existing one
    /// has that dimension (a model change with another dimension is a clear error).
    async fn ensure_collection(&self, dims: usize) -> Result<()>;

    /// Inserts or overwrites points by id. Durable when it returns.
    async fn upsert(&self, points: Vec<Point>) -> Result<()>;

    /// Deletes the document's points of every version but `keep`; returns how many went.
    async fn delete_doc_except(&self, tenant: &str, doc_id: &str, keep: &VersionKey)
    -> Result<u64>;

    /// Deletes every point of the document; returns how many went.
    async fn delete_doc(&self, tenant: &str, doc_id: &str) -> Result<u64> {
        self.delete_doc_except(tenant, doc_id, &VersionKey::none())
            .await
    }

    /// The versions of a document present in the index, with their point counts.
    async fn doc_versions(&self, tenant: &str, doc_id: &str) -> Result<Vec<DocVersion>>;

    /// Best `top_k` points by cosine similarity within the filter, best first.
    async fn search(&self, query: &[f32], filter: &Filter, top_k: usize) -> Result<Vec<SearchHit>>;

    /// Best `top_k` points by BM25 of `text` against their chunk text ([`keyword`]), within the
    /// filter, best first. No query term in a chunk: not a hit.
    async fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        top_k: usize,
    ) -> Result<Vec<SearchHit>>;

    /// Dense and keyword results fused by weighted reciprocal rank ([`Fusion`]), best first.
    /// The default fuses the two lists here; an adapter may fuse on its server, with the same
    /// formula.
    async fn hybrid_search(
        &self,
        query: &[f32],
        text: &str,
        filter: &Filter,
        top_k: usize,
        fusion: &Fusion,
    ) -> Result<Vec<SearchHit>> {
        fuse_here(self, query, text, filter, top_k, fusion).await
    }

    /// Documents in scope (the page range ignored) counted by media type and by tag, the
    /// `limit` most frequent values of each.
    async fn facets(&self, filter: &Filter, limit: usize) -> Result<Facets>;

    /// Documents, chunks and points per tenant, sorted by tenant.
    async fn stats(&self) -> Result<Vec<TenantStats>>;
}

/// "slide 3"; "slides 1–3" for numbered labels of one kind; "sheet Budget – sheet Staff".
fn span_name(first: &str, last: &str) -> String {
    if first == last {
        return first.to_owned();
    }
    let numbered = |label: &str| {
        let (kind, n) = label.rsplit_once(' ')?;
        n.parse::<u32>()
            .ok()
            .map(|_| (kind.to_owned(), n.to_owned()))
    };
    match (numbered(first), numbered(last)) {
        (Some((kind_a, a)), Some((kind_b, b))) if kind_a == kind_b && !kind_a.contains(' ') => {
            format!("{kind_a}s {a}–{b}")
        }
        _ => format!("{first} – {last}"),
    }
}

/// Hybrid search with both rankings fetched and fused in this process: the trait's default,
/// and an adapter's fallback where its server cannot fuse the same way.
pub async fn fuse_here<I: VectorIndex + ?Sized>(
    index: &I,
    query: &[f32],
    text: &str,
    filter: &Filter,
    top_k: usize,
    fusion: &Fusion,
) -> Result<Vec<SearchHit>> {
    let candidates = fusion.candidates.max(top_k);
    let dense = index.search(query, filter, candidates).await?;
    let keyword = index.keyword_search(text, filter, candidates).await?;
    Ok(keyword::fuse(dense, keyword, fusion, top_k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Page;

    #[test]
    fn span_info_names_slides_and_ocr_pages() {
        let slide = |n: u32| Page {
            label: Some(format!("slide {n}")),
            ..Page::new(n, "x")
        };
        let slides = [slide(1), slide(2), slide(3)];
        assert_eq!(
            SpanInfo::of(&slides, 2, 2).page_label.as_deref(),
            Some("slide 2")
        );
        assert_eq!(
            SpanInfo::of(&slides, 2, 3).page_label.as_deref(),
            Some("slides 2–3")
        );
        assert_eq!(
            span_name("sheet Budget", "sheet Staff"),
            "sheet Budget – sheet Staff"
        );
        assert_eq!(span_name("page 4", "slide 1"), "page 4 – slide 1");
        assert_eq!(
            span_name("attachment a.pdf, page 1", "attachment a.pdf, page 2"),
            "attachment a.pdf, page 1 – attachment a.pdf, page 2"
        );
        let mut pages = vec![Page::new(1, "a"), Page::new(2, "b"), Page::new(3, "c")];
        assert_eq!(SpanInfo::of(&pages, 1, 3), SpanInfo::default());
        pages[1].ocr_confidence = Some(90);
        pages[2].ocr_confidence = Some(81);
        let info = SpanInfo::of(&pages, 1, 3);
        assert_eq!(info.page_label, None);
        assert_eq!(info.ocr_pages, [2, 3]);
        assert_eq!(info.ocr_confidence, Some(85));
    }
}
