//! The HTTP API: where it listens, what it accepts, and the pepper of its keys.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::common::CommonOpts;

/// The HTTP API.
#[derive(Args, Debug, Clone, Serialize)]
pub struct ApiOpts {
    /// Address the API listens on (port 0 picks a free port).
    #[arg(long, env = "DOCFLEET_API_ADDR", default_value = "0.0.0.0:8080")]
    pub api_addr: String,
    /// Largest request body accepted.
    #[arg(long, env = "DOCFLEET_API_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub api_max_body_bytes: usize,
    /// Largest document accepted by upload (multipart `POST /v1/jobs`).
    #[arg(long, env = "DOCFLEET_API_MAX_UPLOAD_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub api_max_upload_bytes: usize,
    /// Accept file:// sources (files on the API and worker hosts). Off by default: with it, any
    /// tenant could have any file the workers can read indexed. For single-user setups.
    #[arg(long, env = "DOCFLEET_API_ALLOW_FILE_SOURCES")]
    pub api_allow_file_sources: bool,
    /// s3://bucket/prefix patterns (comma-separated) that sources must lie under, `{tenant}`
    /// standing for the caller's tenant (e.g. `s3://inbox/{tenant}/`). Empty: any bucket the
    /// workers can read, except the fleet's own object store, which is always refused.
    #[arg(long, env = "DOCFLEET_API_SOURCE_PREFIXES", value_delimiter = ',')]
    pub api_source_prefixes: Vec<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub keys: KeyOpts,
}

/// The API key pepper, read by `docfleet api` and `docfleet keys create`.
#[derive(Args, Debug, Clone, Serialize)]
pub struct KeyOpts {
    /// Server-side secret mixed into the stored API key hashes; the same on every API instance.
    /// Default: a random one kept in <data_dir>/api-key-pepper (single machine only).
    #[arg(long, env = "DOCFLEET_API_KEY_PEPPER", hide_env_values = true)]
    #[serde(serialize_with = "super::secrets::secret")]
    pub api_key_pepper: Option<String>,
}

impl KeyOpts {
    /// The configured pepper, or the data dir's (made on first use).
    pub fn pepper(&self, common: &CommonOpts) -> Result<Vec<u8>> {
        crate::auth::pepper(self.api_key_pepper.as_deref(), &common.data_dir)
    }
}
