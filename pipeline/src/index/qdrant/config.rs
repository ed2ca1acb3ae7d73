//! How the Qdrant adapter is set up: the server, the collection and how tenants map to
//! collections.

use std::fmt;

/// How tenants map to collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tenancy {
    #[default]
    Shared,
    PerTenant,
}

#[derive(Clone)]
pub struct QdrantConfig {
    /// gRPC endpoint, e.g. http://qdrant:6334.
    pub url: String,
    pub api_key: Option<String>,
    /// The collection (shared tenancy), or the prefix of the tenants' collections.
    pub collection: String,
    pub tenancy: Tenancy,
    pub upsert_batch_points: usize,
    /// Upsert requests of one `upsert` call in flight at once.
    pub upsert_parallelism: usize,
    pub timeout_secs: u64,
    /// Attempts per request (transient failures are retried with backoff).
    pub max_attempts: u32,
}

impl fmt::Debug for QdrantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QdrantConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("collection", &self.collection)
            .field("tenancy", &self.tenancy)
            .finish_non_exhaustive()
    }
}
