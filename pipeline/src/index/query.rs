//! What a search asks for: the scope (tenant always, then document, source folder, media types,
//! pages, tags), the mode (dense, keyword, hybrid) and how hybrid results are fused; and the
//! facet counts a search can return. Shared by every [`super::VectorIndex`] adapter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ChunkPayload;

/// Search scope. The tenant is not optional: every read is tenant-scoped. The other conditions
/// are ANDed; an empty one does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub tenant: String,
    pub doc_id: Option<String>,
    /// Only sources under this folder: `s3://bucket/reports/`, `file:///data/inbox/`. It ends
    /// with `/` (a folder, matched at path boundaries, the same on every backend).
    pub source_prefix: Option<String>,
    /// Only these media types (any of them), e.g. `application/pdf`.
    pub media_types: Vec<String>,
    /// Only chunks whose page span overlaps `first..=last`.
    pub pages: Option<(u32, u32)>,
    /// Only documents with every one of these tags.
    pub tags: BTreeMap<String, String>,
}

impl Filter {
    /// Everything of one tenant.
    pub fn tenant(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            ..Self::default()
        }
    }

    /// Whether a stored chunk is in scope: the embedded index's filter, and the reference the
    /// Qdrant filter is tested against.
    pub fn matches(&self, p: &ChunkPayload) -> bool {
        p.tenant == self.tenant
            && self.doc_id.as_ref().is_none_or(|d| *d == p.doc_id)
            && self
                .source_prefix
                .as_ref()
                .is_none_or(|prefix| source_folders(&p.source).any(|f| f == prefix))
            && (self.media_types.is_empty() || self.media_types.contains(&p.media_type))
            && self
                .pages
                .is_none_or(|(first, last)| p.page_start <= last && p.page_end >= first)
            && self.tags.iter().all(|(k, v)| p.tags.get(k) == Some(v))
    }

    /// The same scope without the page range: facets count documents, not page spans.
    pub fn without_pages(&self) -> Self {
        Self {
            pages: None,
            ..self.clone()
        }
    }
}

/// The folders a source lies in, each ending with `/`: `s3://b/a/c.pdf` → `s3://b/`, `s3://b/a/`.
/// Stored with each Qdrant point so a folder filter is one keyword match.
pub fn source_folders(source: &str) -> impl Iterator<Item = &str> {
    // Folders start after the scheme's `//` and, for s3, the bucket.
    let start = source.find("://").map_or(0, |i| i + 3);
    source[start..]
        .match_indices('/')
        .map(move |(i, _)| &source[..start + i + 1])
}

/// How results are ranked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Cosine similarity of the embeddings only.
    Dense,
    /// BM25 over the chunk text only: exact terms, names, codes.
    Keyword,
    /// Both, fused by reciprocal rank ([`Fusion`]).
    #[default]
    Hybrid,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Dense => "dense",
            SearchMode::Keyword => "keyword",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

/// Weighted reciprocal rank fusion: a hit's score is the sum over the lists it is in of
/// `weight / (k + rank)`, rank from 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    pub dense_weight: f32,
    pub keyword_weight: f32,
    /// RRF's constant: larger flattens the advantage of the first ranks.
    pub k: u32,
    /// Candidates taken from each list before fusing (at least `top_k`).
    pub candidates: usize,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            dense_weight: 1.0,
            keyword_weight: 1.0,
            k: 60,
            candidates: 100,
        }
    }
}

/// Facet counts of the documents in scope: top values of the media type and of each tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    pub media_type: Vec<FacetCount>,
    /// `key=value` of the tags.
    pub tags: Vec<FacetCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    pub value: String,
    /// Documents with this value.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_a_source() {
        let folders: Vec<&str> = source_folders("s3://bucket/a/b/c.pdf").collect();
        assert_eq!(
            folders,
            ["s3://bucket/", "s3://bucket/a/", "s3://bucket/a/b/"]
        );
        let local: Vec<&str> = source_folders("file:///data/in/x.txt").collect();
        assert_eq!(local, ["file:///", "file:///data/", "file:///data/in/"]);
    }
}
