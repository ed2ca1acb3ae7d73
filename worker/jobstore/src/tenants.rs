//! Tenants and API keys, stored beside the jobs (same database, same adapters). The store only
//! keeps what it is given: key generation and hashing live with the API (`docfleet` binary).

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub name: String,
    pub created_at_ms: i64,
    /// Keys not revoked.
    pub active_keys: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// The public part of the key (`dfk_<key_id>_…`), safe to show and log.
    pub key_id: String,
    pub tenant: String,
    /// Hex SHA-256 of the pepper and the secret part; never the secret itself.
    #[serde(skip)]
    pub secret_sha256: String,
    pub label: String,
    pub role: KeyRole,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What a key may do. Stored as lower-case text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Jobs, batches, documents, search: the tenant's data.
    #[default]
    Member,
    /// Also the tenant's profile, keys and audit trail.
    Admin,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Member => "member",
            KeyRole::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(KeyRole::Member),
            "admin" => Some(KeyRole::Admin),
            _ => None,
        }
    }
}

/// One version of a tenant's profile. The store keeps every version and never changes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileRecord {
    pub tenant: String,
    /// 1 for the first profile, +1 for each change.
    pub version: i64,
    /// The validated profile as JSON (the binary parses and validates it; the store only keeps it).
    pub document: String,
    pub created_at_ms: i64,
    /// Who set it: `key:<key_id>` or `cli`.
    pub created_by: String,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the tenant; `false` when it exists already.
    async fn create_tenant(&self, name: &str, now_ms: i64) -> Result<bool>;

    async fn list_tenants(&self) -> Result<Vec<Tenant>>;

    /// Stores a new key; `false` when the tenant does not exist.
    async fn add_key(&self, key: &ApiKeyRecord) -> Result<bool>;

    /// The key by its id (revoked ones included, so callers can tell why it fails).
    async fn key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>>;

    /// A tenant's keys (or all), newest first.
    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>>;

    /// Revokes the key; `false` when there is no such key or it was revoked already.
    async fn revoke_key(&self, key_id: &str, now_ms: i64) -> Result<bool>;

    /// Stores `document` as the tenant's next profile version and returns that version;
    /// `None` when the tenant does not exist.
    async fn put_profile(
        &self,
        tenant: &str,
        document: &str,
        created_by: &str,
        now_ms: i64,
    ) -> Result<Option<i64>>;

    /// The tenant's current (newest) profile, `None` when it never had one.
    async fn profile(&self, tenant: &str) -> Result<Option<ProfileRecord>>;
}
