//! `TenantStore` on both databases (the same SQL, `$n` parameters, times passed in).

use async_trait::async_trait;

use super::SqlJobStore;
use crate::dialect::{Columns, Dialect, Params};
use crate::error::{Error, Result};
use crate::tenants::{ApiKeyRecord, KeyRole, ProfileRecord, Tenant, TenantStore};

/// How often `put_profile` tries again when another writer took the same version number.
const PUT_PROFILE_TRIES: usize = 5;

/// `SELECT` of every `api_keys` column, then `$rest`.
macro_rules! select_keys {
    ($rest:literal) => {
        concat!(
            "SELECT key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms, role \
             FROM api_keys ",
            $rest
        )
    };
}

fn decode_key<D: Dialect>(row: &D::Row) -> Result<ApiKeyRecord> {
    let r = Columns::<D>(row);
    Ok(ApiKeyRecord {
        key_id: r.get("key_id")?,
        tenant: r.get("tenant")?,
        secret_sha256: r.get("secret_sha256")?,
        label: r.get("label")?,
        role: {
            let role: String = r.get("role")?;
            KeyRole::parse(&role).ok_or_else(|| Error::CorruptRow {
                job_id: format!("api key {}", r.get::<String>("key_id").unwrap_or_default()),
                reason: format!("unknown role {role:?}"),
            })?
        },
        created_at_ms: r.get("created_at_ms")?,
        revoked_at_ms: r.get("revoked_at_ms")?,
    })
}

/// The same SQL on both databases (`$n` parameters, times passed in).
#[async_trait]
impl<D: Dialect> TenantStore for SqlJobStore<D> {
    async fn create_tenant(&self, name: &str, now_ms: i64) -> Result<bool> {
        self.changed_one(
            sqlx::query(
                "INSERT INTO tenants (name, created_at_ms) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .param(name)
            .param(now_ms),
        )
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT t.name, t.created_at_ms, \
                 (SELECT COUNT(*) FROM api_keys k \
                  WHERE k.tenant = t.name AND k.revoked_at_ms IS NULL) AS active_keys \
                 FROM tenants t ORDER BY t.name",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                let r = Columns::<D>(row);
                Ok(Tenant {
                    name: r.get("name")?,
                    created_at_ms: r.get("created_at_ms")?,
                    active_keys: r.get::<i64>("active_keys")?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn add_key(&self, key: &ApiKeyRecord) -> Result<bool> {
        self.changed_one(
            sqlx::query(
                "INSERT INTO api_keys \
                 (key_id, tenant, secret_sha256, label, created_at_ms, revoked_at_ms, role) \
                 SELECT $1, name, $3, $4, $5, NULL, $6 FROM tenants WHERE name = $2",
            )
            .param(key.key_id.as_str())
            .param(key.tenant.as_str())
            .param(key.secret_sha256.as_str())
            .param(key.label.as_str())
            .param(key.created_at_ms)
            .param(key.role.as_str()),
        )
        .await
    }

    async fn key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
        let row = self
            .fetch_optional(sqlx::query(select_keys!("WHERE key_id = $1")).param(key_id))
            .await?;
        row.map(|row| decode_key::<D>(&row)).transpose()
    }

    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>> {
        let rows = self
            .fetch_all(
                sqlx::query(select_keys!(
                    "WHERE ($1 IS NULL OR tenant = $1) ORDER BY created_at_ms DESC, key_id"
                ))
                .param(tenant),
            )
            .await?;
        rows.iter().map(decode_key::<D>).collect()
    }

    async fn revoke_key(&self, key_id: &str, now_ms: i64) -> Result<bool> {
        self.changed_one(
            sqlx::query(
                "UPDATE api_keys SET revoked_at_ms = $2 \
                 WHERE key_id = $1 AND revoked_at_ms IS NULL",
            )
            .param(key_id)
            .param(now_ms),
        )
        .await
    }

    async fn put_profile(
        &self,
        tenant: &str,
        document: &str,
        created_by: &str,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        for _ in 0..PUT_PROFILE_TRIES {
            let inserted = self
                .fetch_optional(
                    sqlx::query(
                        "INSERT INTO tenant_profiles \
                         (tenant, version, document, created_at_ms, created_by) \
                         SELECT name, COALESCE((SELECT MAX(version) FROM tenant_profiles \
                                                WHERE tenant = $1), 0) + 1, $2, $3, $4 \
                         FROM tenants WHERE name = $1 RETURNING version",
                    )
                    .param(tenant)
                    .param(document)
                    .param(now_ms)
                    .param(created_by),
                )
                .await;
            match inserted {
                Ok(row) => {
                    return Ok(row
                        .map(|row| Columns::<D>(&row).get("version"))
                        .transpose()?);
                }
                // Another writer took this version number: count again.
                Err(Error::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::ProfileContended {
            tenant: tenant.to_owned(),
        })
    }

    async fn profile(&self, tenant: &str) -> Result<Option<ProfileRecord>> {
        let row = self
            .fetch_optional(
                sqlx::query(
                    "SELECT tenant, version, document, created_at_ms, created_by \
                     FROM tenant_profiles WHERE tenant = $1 ORDER BY version DESC LIMIT 1",
                )
                .param(tenant),
            )
            .await?;
        row.map(|row| {
            let r = Columns::<D>(&row);
            Ok(ProfileRecord {
                tenant: r.get("tenant")?,
                version: r.get("version")?,
                document: r.get("document")?,
                created_at_ms: r.get("created_at_ms")?,
                created_by: r.get("created_by")?,
            })
        })
        .transpose()
    }
}
