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

/// How often `put_profile` tries again when another writer took the same version number.
pub(crate) const PUT_PROFILE_TRIES: usize = 5;

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
                     (key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms, role) \
                     SELECT $1, name, $3, $4, $5, NULL, $6 FROM tenants WHERE name = $2",
                )
                .bind(&key.key_id)
                .bind(&key.tenant)
                .bind(&key.secret_sha256)
                .bind(&key.label)
                .bind(key.created_at_ms)
                .bind(key.role.as_str())
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

            async fn put_profile(
                &self,
                tenant: &str,
                document: &str,
                created_by: &str,
                now_ms: i64,
            ) -> $crate::error::Result<Option<i64>> {
                use sqlx::Row as _;
                for _ in 0..$crate::tenants::PUT_PROFILE_TRIES {
                    let inserted = sqlx::query(
                        "INSERT INTO tenant_profiles \
                         (tenant, version, document, created_at_ms, created_by) \
                         SELECT name, COALESCE((SELECT MAX(version) FROM tenant_profiles \
                                                WHERE tenant = $1), 0) + 1, $2, $3, $4 \
                         FROM tenants WHERE name = $1 RETURNING version",
                    )
                    .bind(tenant)
                    .bind(document)
                    .bind(now_ms)
                    .bind(created_by)
                    .fetch_optional(&self.pool)
                    .await;
                    match inserted {
                        Ok(row) => return Ok(row.map(|r| r.try_get("version")).transpose()?),
                        // Another writer took this version number: count again.
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err($crate::error::Error::ProfileContended {
                    tenant: tenant.to_owned(),
                })
            }

            async fn profile(
                &self,
                tenant: &str,
            ) -> $crate::error::Result<Option<$crate::tenants::ProfileRecord>> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT tenant, version, document, created_at_ms, created_by \
                     FROM tenant_profiles WHERE tenant = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok($crate::tenants::ProfileRecord {
                        tenant: r.try_get("tenant")?,
                        version: r.try_get("version")?,
                        document: r.try_get("document")?,
                        created_at_ms: r.try_get("created_at_ms")?,
                        created_by: r.try_get("created_by")?,
                    })
                })
                .transpose()
            }
        }
    };
}

macro_rules! key_columns {
    () => {
        "key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms, role"
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
            role: {
                let role: String = r.try_get("role")?;
                $crate::tenants::KeyRole::parse(&role).ok_or_else(|| {
                    $crate::error::Error::CorruptRow {
                        job_id: format!(
                            "api key {}",
                            r.try_get::<String, _>("key_id").unwrap_or_default()
                        ),
                        reason: format!("unknown role {role:?}"),
                    }
                })?
            },
            created_at_ms: r.try_get("created_at_ms")?,
            revoked_at_ms: r.try_get("revoked_at_ms")?,
        })
    }};
}
