//! The document model shared by every lane: identity, pages and chunks.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Pages are joined with this separator to form the document text that chunk offsets refer to.
pub const PAGE_SEPARATOR: &str = "\n\n";

/// Namespace for point ids: UUIDv5(namespace, "tenant\0doc_id\0chunk_index").
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0c2e_9a4b_4f0e_8c53_d0cf_1ee7_0001);

/// One page of extracted text. `number` is 1-based, as printed in viewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub number: u32,
    pub text: String,
    /// How a person names this page where "page N" would be wrong: "slide 3", "sheet Budget",
    /// "chapter 2", "attachment report.pdf, page 1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Set when the text was recognised by OCR: Tesseract's mean word confidence, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_confidence: Option<u8>,
}

impl Page {
    /// A page of text as the document holds it (no label, not OCR'd).
    pub fn new(number: u32, text: impl Into<String>) -> Self {
        Self {
            number,
            text: text.into(),
            label: None,
            ocr_confidence: None,
        }
    }

    /// What search results call this page: its label, else "page N".
    pub fn display_name(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| format!("page {}", self.number))
    }
}

/// A piece of a document that fits the model's token budget.
///
/// `char_start`/`char_end` are offsets in Unicode scalar values into the document text, i.e. the
/// page texts joined with [`PAGE_SEPARATOR`]; `text` is exactly that slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub index: u32,
    pub text: String,
    /// Tokens of `text` as the model sees it, special tokens included.
    pub token_count: u32,
    pub page_start: u32,
    pub page_end: u32,
    pub char_start: u64,
    pub char_end: u64,
}

/// Who a document is and which bytes we saw: the keys of every idempotent write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocIdentity {
    pub tenant: String,
    /// Hex SHA-256 of (tenant, source URI), truncated to 32 chars: stable across content changes.
    pub doc_id: String,
    pub source: String,
    /// Hex SHA-256 of the document bytes.
    pub content_sha256: String,
}

impl DocIdentity {
    pub fn new(tenant: &str, source: &str, bytes: &[u8]) -> Self {
        Self {
            tenant: tenant.to_owned(),
            doc_id: doc_id(tenant, source),
            source: source.to_owned(),
            content_sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// Point id of one chunk: a redelivered or re-run job overwrites, never duplicates.
    pub fn point_id(&self, chunk_index: u32) -> Uuid {
        point_id(&self.tenant, &self.doc_id, chunk_index)
    }
}

pub fn doc_id(tenant: &str, source: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0u8]);
    h.update(source.as_bytes());
    hex::encode(h.finalize())[..32].to_owned()
}

pub fn point_id(tenant: &str, doc_id: &str, chunk_index: u32) -> Uuid {
    let name = format!("{tenant}\0{doc_id}\0{chunk_index}");
    Uuid::new_v5(&POINT_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_scoped_by_tenant() {
        let a = DocIdentity::new("t1", "file:///a.pdf", b"x");
        let b = DocIdentity::new("t1", "file:///a.pdf", b"y");
        let c = DocIdentity::new("t2", "file:///a.pdf", b"x");
        assert_eq!(a.doc_id, b.doc_id, "doc_id ignores content");
        assert_ne!(a.content_sha256, b.content_sha256);
        assert_ne!(a.doc_id, c.doc_id, "doc_id is per tenant");
        assert_eq!(a.point_id(3), b.point_id(3));
        assert_ne!(a.point_id(3), a.point_id(4));
        assert_ne!(a.point_id(0), c.point_id(0));
        assert_eq!(a.point_id(0).get_version_num(), 5);
    }
}
