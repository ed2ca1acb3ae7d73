//! The index lane's port: where vectors live and how they are searched.
//!
//! Adapters: [`embedded`] (on-disk, for local runs; the default) and `qdrant` (a Qdrant server,
//! behind the `qdrant` feature). Every write is idempotent: point ids are derived from
//! (tenant, doc_id, chunk_index), so a re-run overwrites instead of duplicating.

pub mod embedded;
#[cfg(feature = "qdrant")]
pub mod qdrant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

/// What is stored with every vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub text: String,
    pub model: String,
    pub pipeline_version: String,
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

/// Search scope. The tenant is not optional: every read is tenant-scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub tenant: String,
    pub doc_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: Uuid,
    /// Cosine similarity in [-1, 1].
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

    /// Documents, chunks and points per tenant, sorted by tenant.
    async fn stats(&self) -> Result<Vec<TenantStats>>;
}
