//! API keys: `dfk_<key_id>_<secret>`. The key id is public (it names the key in listings and
//! logs); the secret is 64 hex characters (256 random bits) and only SHA-256(pepper ‖ 0 ‖ secret)
//! is stored. The pepper is a server-side secret (`DOCFLEET_API_KEY_PEPPER`), so the key table
//! alone cannot be used to check guesses.

use std::path::Path;

use anyhow::{Context, Result, bail};
use docfleet_jobstore::{ApiKeyRecord, KeyRole, TenantStore};
use sha2::{Digest, Sha256};

const PREFIX: &str = "dfk_";
/// Shortest pepper accepted (bytes): a pepper is only as good as it is unguessable.
const MIN_PEPPER_BYTES: usize = 16;

/// A freshly made key: show `token` to the user once; store `record`.
#[derive(Debug)]
pub struct NewKey {
    pub token: String,
    pub record: ApiKeyRecord,
}

fn random_hex(uuids: usize) -> String {
    (0..uuids)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect()
}

fn secret_sha256(pepper: &[u8], secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(pepper);
    h.update([0u8]);
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Equal without an early exit, so the time taken says nothing about where two hashes differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn new_key(pepper: &[u8], tenant: &str, label: &str, role: KeyRole, now_ms: i64) -> NewKey {
    // UUIDv4 carries 122 random bits: the id takes 12 hex digits of one, the secret two whole.
    let key_id = random_hex(1)[..12].to_owned();
    let secret = random_hex(2);
    NewKey {
        token: format!("{PREFIX}{key_id}_{secret}"),
        record: ApiKeyRecord {
            key_id,
            tenant: tenant.to_owned(),
            secret_sha256: secret_sha256(pepper, &secret),
            label: label.to_owned(),
            role,
            created_at_ms: now_ms,
            revoked_at_ms: None,
        },
    }
}

/// Why a presented key is refused (all answer 401; the reason is for logs, never the client).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefused {
    #[error("not a docfleet API key")]
    Malformed,
    #[error("unknown key")]
    Unknown,
    #[error("revoked key")]
    Revoked,
    #[error("wrong secret")]
    WrongSecret,
}

/// The record (tenant, role) of a presented key.
pub async fn verify(
    store: &dyn TenantStore,
    pepper: &[u8],
    token: &str,
) -> Result<std::result::Result<ApiKeyRecord, KeyRefused>> {
    let Some((key_id, secret)) = token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(id, secret)| id.len() == 12 && secret.len() == 64)
    else {
        return Ok(Err(KeyRefused::Malformed));
    };
    let Some(record) = store.key(key_id).await? else {
        return Ok(Err(KeyRefused::Unknown));
    };
    if record.revoked_at_ms.is_some() {
        return Ok(Err(KeyRefused::Revoked));
    }
    if !same(&record.secret_sha256, &secret_sha256(pepper, secret)) {
        return Ok(Err(KeyRefused::WrongSecret));
    }
    Ok(Ok(record))
}

/// The pepper: `DOCFLEET_API_KEY_PEPPER` when set; otherwise, for single-machine use, a random
/// one kept in `<data_dir>/api-key-pepper` (made on first use, mode 0600). A fleet must set the
/// variable (from a secret), the same on every API instance.
pub fn pepper(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>> {
    if let Some(p) = configured {
        if p.len() < MIN_PEPPER_BYTES {
            bail!("DOCFLEET_API_KEY_PEPPER must be at least {MIN_PEPPER_BYTES} bytes");
        }
        return Ok(p.as_bytes().to_vec());
    }
    let path = data_dir.join("api-key-pepper");
    match std::fs::read(&path) {
        Ok(p) if p.len() >= MIN_PEPPER_BYTES => return Ok(p),
        Ok(_) => bail!(
            "{} is shorter than {MIN_PEPPER_BYTES} bytes",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let pepper = random_hex(2);
    write_private(&path, pepper.as_bytes())
        .with_context(|| format!("writing the API key pepper {}", path.display()))?;
    Ok(pepper.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &Path) -> std::sync::Arc<dyn docfleet_jobstore::JobStore> {
        docfleet_jobstore::connect(dir.join("jobs.sqlite").to_str().unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn keys_verify_until_revoked_and_only_with_the_right_pepper() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = store(dir.path()).await;
        let t = jobs.tenants();
        t.create_tenant("acme", 1).await.unwrap();
        let pepper = pepper(None, dir.path()).unwrap();
        assert_eq!(super::pepper(None, dir.path()).unwrap(), pepper, "kept");
        let key = new_key(&pepper, "acme", "ci", KeyRole::Admin, 2);
        assert!(
            !key.record.secret_sha256.contains(&key.token[17..]),
            "secret not stored"
        );
        assert!(t.add_key(&key.record).await.unwrap());

        let ok = verify(t, &pepper, &key.token).await.unwrap().unwrap();
        assert_eq!((ok.tenant.as_str(), ok.role), ("acme", KeyRole::Admin));
        let wrong_pepper = verify(t, b"another-pepper-of-16+", &key.token)
            .await
            .unwrap();
        assert_eq!(wrong_pepper, Err(KeyRefused::WrongSecret));
        let mut tampered = key.token.clone();
        tampered.replace_range(20..21, if &key.token[20..21] == "0" { "1" } else { "0" });
        assert_eq!(
            verify(t, &pepper, &tampered).await.unwrap(),
            Err(KeyRefused::WrongSecret)
        );
        assert_eq!(
            verify(t, &pepper, "Bearer x").await.unwrap(),
            Err(KeyRefused::Malformed)
        );
        let unknown = new_key(&pepper, "acme", "", KeyRole::Member, 3);
        assert_eq!(
            verify(t, &pepper, &unknown.token).await.unwrap(),
            Err(KeyRefused::Unknown)
        );

        assert!(t.revoke_key(&key.record.key_id, 4).await.unwrap());
        assert_eq!(
            verify(t, &pepper, &key.token).await.unwrap(),
            Err(KeyRefused::Revoked)
        );
    }

    #[test]
    fn short_peppers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(pepper(Some("short"), dir.path()).is_err());
        assert_eq!(
            pepper(Some("0123456789abcdef"), dir.path()).unwrap(),
            b"0123456789abcdef"
        );
    }
}
