//! Tenants and API keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_jobstore::{ApiKeyRecord, KeyRole};

use crate::common::Ctx;

fn key(id: &str, tenant: &str, at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: id.into(),
        tenant: tenant.into(),
        secret_sha256: format!("hash-of-{id}"),
        label: format!("label {id}"),
        role: KeyRole::Member,
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

pub async fn profiles_are_versioned_per_tenant(ctx: Ctx) {
    let t = ctx.store.tenants();
    assert_eq!(
        t.put_profile("nobody", "{}", "cli", 1).await.unwrap(),
        None,
        "no such tenant"
    );
    t.create_tenant("acme", 1).await.unwrap();
    t.create_tenant("globex", 1).await.unwrap();
    assert_eq!(t.profile("acme").await.unwrap(), None);
    assert_eq!(
        t.put_profile("acme", r#"{"a":1}"#, "cli", 2).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        t.put_profile("acme", r#"{"a":2}"#, "key:k1", 3)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        t.put_profile("globex", r#"{"g":1}"#, "cli", 4)
            .await
            .unwrap(),
        Some(1),
        "versions count per tenant"
    );
    let acme = t.profile("acme").await.unwrap().unwrap();
    assert_eq!(
        (
            acme.version,
            acme.document.as_str(),
            acme.created_by.as_str()
        ),
        (2, r#"{"a":2}"#, "key:k1")
    );
    assert_eq!(acme.created_at_ms, 3);
    assert_eq!(t.profile("globex").await.unwrap().unwrap().version, 1);

    // Concurrent writers (each with its own connection) each get their own version number.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = ctx.open().await;
        tasks.push(tokio::spawn(async move {
            let v = store
                .tenants()
                .put_profile("acme", "{}", "cli", 10 + i)
                .await;
            store.close().await;
            v.unwrap().unwrap()
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (3..=10).collect::<Vec<_>>());
}

pub async fn key_roles_round_trip(ctx: Ctx) {
    let t = ctx.store.tenants();
    t.create_tenant("acme", 1).await.unwrap();
    let admin = ApiKeyRecord {
        role: KeyRole::Admin,
        ..key("ka", "acme", 2)
    };
    assert!(t.add_key(&admin).await.unwrap());
    assert!(t.add_key(&key("km", "acme", 3)).await.unwrap());
    assert_eq!(t.key("ka").await.unwrap().unwrap().role, KeyRole::Admin);
    assert_eq!(t.key("km").await.unwrap().unwrap().role, KeyRole::Member);
}
