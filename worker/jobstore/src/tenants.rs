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
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
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
}

/// The same SQL on both drivers (`$n` parameters, times passed in).
macro_rules! impl_tenant_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::tenants::TenantStore for $store {
            async fn create_tenant(&self, name: &str, now_ms: i64) -> $crate::error::Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO tenants (name, created_at_ms) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_tenants(&self) -> $crate::error::Result<Vec<$crate::tenants::Tenant>> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT t.name, t.created_at_ms, \
                     (SELECT COUNT(*) FROM api_keys k \
                      WHERE k.tenant = t.name AND k.revoked_at_ms IS NULL) AS active_keys \
                     FROM tenants t ORDER BY t.name",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::tenants::Tenant {
                            name: r.try_get("name")?,
                            created_at_ms: r.try_get("created_at_ms")?,
                            active_keys: r.try_get::<i64, _>("active_keys")?.max(0) as u64,
                        })
                    })
                    .collect()
            }

            async fn add_key(
                &self,
                key: &$crate::tenants::ApiKeyRecord,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO api_keys \
                     (key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms) \
                     SELECT $1, name, $3, $4, $5, NULL FROM tenants WHERE name = $2",
                )
                .bind(&key.key_id)
                .bind(&key.tenant)
                .bind(&key.secret_sha256)
                .bind(&key.label)
                .bind(key.created_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn key(
                &self,
                key_id: &str,
            ) -> $crate::error::Result<Option<$crate::tenants::ApiKeyRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM api_keys WHERE key_id = $1"
                ))
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| decode_key!(r)).transpose()
            }

            async fn list_keys(
                &self,
                tenant: Option<&str>,
            ) -> $crate::error::Result<Vec<$crate::tenants::ApiKeyRecord>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM api_keys WHERE ($1 IS NULL OR tenant = $1) \
                     ORDER BY created_at_ms DESC, key_id"
                ))
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| decode_key!(r)).collect()
            }

            async fn revoke_key(&self, key_id: &str, now_ms: i64) -> $crate::error::Result<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at_ms = $2 \
                     WHERE key_id = $1 AND revoked_at_ms IS NULL",
                )
                .bind(key_id)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

macro_rules! key_columns {
    () => {
        "key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms"
    };
}

macro_rules! decode_key {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        Ok::<_, $crate::error::Error>($crate::tenants::ApiKeyRecord {
            key_id: r.try_get("key_id")?,
            tenant: r.try_get("tenant")?,
            secret_sha256: r.try_get("secret_sha256")?,
            label: r.try_get("label")?,
            created_at_ms: r.try_get("created_at_ms")?,
            revoked_at_ms: r.try_get("revoked_at_ms")?,
        })
    }};
}
