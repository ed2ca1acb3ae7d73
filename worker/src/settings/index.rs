//! The index options: the embedded index (no options: `<data_dir>/index`), or a Qdrant server.

use anyhow::Result;
use clap::Args;
use docfleet_pipeline::index::qdrant::{QdrantConfig, Tenancy};
use serde::Serialize;

/// Where vectors go: the embedded on-disk index (`<data_dir>/index`), or a Qdrant server.
#[derive(Args, Debug, Clone, Serialize)]
pub struct QdrantOpts {
    /// Qdrant's gRPC URL (e.g. http://qdrant:6334). Unset: the embedded index in <data_dir>/index.
    #[arg(long, env = "DOCFLEET_QDRANT_URL", global = true)]
    pub qdrant_url: Option<String>,
    /// Qdrant API key (sent as `api-key`).
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_API_KEY",
        hide_env_values = true,
        global = true
    )]
    #[serde(serialize_with = "super::secrets::secret")]
    pub qdrant_api_key: Option<String>,
    /// The collection (shared tenancy), or the prefix of `<collection>_<tenant>` (per-tenant).
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_COLLECTION",
        default_value = "docfleet",
        global = true
    )]
    pub qdrant_collection: String,
    /// shared: one collection, filtered by tenant (Qdrant's recommendation); per-tenant: one
    /// collection per tenant.
    #[arg(
        long,
        env = "DOCFLEET_QDRANT_TENANCY",
        value_enum,
        default_value = "shared",
        global = true
    )]
    pub qdrant_tenancy: QdrantTenancy,
    /// Points per upsert request.
    #[arg(long, env = "DOCFLEET_QDRANT_UPSERT_BATCH_POINTS", default_value_t = 128, global = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub qdrant_upsert_batch_points: u64,
    /// Upsert requests in flight at once per document.
    #[arg(long, env = "DOCFLEET_QDRANT_UPSERT_PARALLELISM", default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub qdrant_upsert_parallelism: u64,
    /// Timeout of one Qdrant request.
    #[arg(long, env = "DOCFLEET_QDRANT_TIMEOUT_SECS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub qdrant_timeout_secs: u64,
    /// Attempts per Qdrant request (unavailable, timeouts, rate limits are retried with backoff).
    #[arg(long, env = "DOCFLEET_QDRANT_MAX_ATTEMPTS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub qdrant_max_attempts: u32,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QdrantTenancy {
    Shared,
    PerTenant,
}

impl From<QdrantTenancy> for Tenancy {
    fn from(tenancy: QdrantTenancy) -> Self {
        match tenancy {
            QdrantTenancy::Shared => Tenancy::Shared,
            QdrantTenancy::PerTenant => Tenancy::PerTenant,
        }
    }
}

impl QdrantOpts {
    /// The Qdrant server's settings for `collection` (a model's collection or per-tenant
    /// prefix), or `None` without `qdrant_url`: the embedded index.
    pub fn config(&self, collection: String) -> Result<Option<QdrantConfig>> {
        let Some(url) = &self.qdrant_url else {
            return Ok(None);
        };
        Ok(Some(QdrantConfig {
            url: url.clone(),
            api_key: self.qdrant_api_key.clone(),
            collection,
            tenancy: self.qdrant_tenancy.into(),
            upsert_batch_points: usize::try_from(self.qdrant_upsert_batch_points)?,
            upsert_parallelism: usize::try_from(self.qdrant_upsert_parallelism)?,
            timeout_secs: self.qdrant_timeout_secs,
            max_attempts: self.qdrant_max_attempts,
        }))
    }
}
