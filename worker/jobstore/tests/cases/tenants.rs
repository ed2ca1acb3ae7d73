//! Tenants and API keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_jobstore::ApiKeyRecord;

use crate::common::Ctx;

fn key(id: &str, tenant: &str, at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: id.into(),
        tenant: tenant.into(),
        secret_sha256: format!("hash-of-{id}"),
        label: format!("label {id}"),
        created_at_ms: at,
        revoked_at_ms: None,
    }
}

pub async fn tenants_and_keys(ctx: Ctx) {
    let t = ctx.store.tenants();
    assert!(t.create_tenant("acme", 1).await.unwrap());
    assert!(!t.create_tenant("acme", 2).await.unwrap(), "exists already");
    assert!(t.create_tenant("globex", 3).await.unwrap());
    assert!(
        !t.add_key(&key("k0", "nobody", 4)).await.unwrap(),
        "no such tenant"
    );
    assert!(t.add_key(&key("k1", "acme", 5)).await.unwrap());
    assert!(t.add_key(&key("k2", "acme", 6)).await.unwrap());
    assert!(t.add_key(&key("k3", "globex", 7)).await.unwrap());

    let got = t.key("k1").await.unwrap().unwrap();
    assert_eq!(got, key("k1", "acme", 5));
    assert_eq!(t.key("k0").await.unwrap(), None);
    let acme: Vec<_> = t.list_keys(Some("acme")).await.unwrap();
    assert_eq!(
        acme.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"],
        "newest first, one tenant"
    );
    assert_eq!(t.list_keys(None).await.unwrap().len(), 3);

    assert!(t.revoke_key("k1", 8).await.unwrap());
    assert!(!t.revoke_key("k1", 9).await.unwrap(), "revoked already");
    assert!(!t.revoke_key("k9", 9).await.unwrap(), "no such key");
    assert_eq!(t.key("k1").await.unwrap().unwrap().revoked_at_ms, Some(8));

    let tenants = t.list_tenants().await.unwrap();
    let summary: Vec<_> = tenants
        .iter()
        .map(|t| (t.name.as_str(), t.active_keys))
        .collect();
    assert_eq!(summary, [("acme", 1), ("globex", 1)]);
}
