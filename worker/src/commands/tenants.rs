//! `docfleet tenants …` and `docfleet keys …`: tenants and their API keys in the job store.

use anyhow::{Result, bail};
use docfleet_pipeline::artifacts::now_unix_millis;
use docfleet_pipeline::job::validate_tenant;

use crate::auth;
use crate::cli::{KeysCommand, TenantsCommand};
use crate::connect;
use crate::settings::{CommonOpts, KeyOpts, StoreOpts};

fn now_ms() -> i64 {
    i64::try_from(now_unix_millis()).unwrap_or(i64::MAX)
}

pub async fn tenants(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    which: TenantsCommand,
) -> Result<()> {
    let store = connect::job_store(common, store_opts).await?;
    let t = store.tenants();
    match which {
        TenantsCommand::Create { name } => {
            validate_tenant(&name)?;
            if t.create_tenant(&name, now_ms()).await? {
                eprintln!("tenant {name} created");
            } else {
                eprintln!("tenant {name} exists already");
            }
        }
        TenantsCommand::List { json } => {
            let all = t.list_tenants().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<24} {:>11}", "TENANT", "ACTIVE KEYS");
                for tenant in &all {
                    println!("{:<24} {:>11}", tenant.name, tenant.active_keys);
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn keys(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    key_opts: &KeyOpts,
    which: KeysCommand,
) -> Result<()> {
    let store = connect::job_store(common, store_opts).await?;
    let t = store.tenants();
    match which {
        KeysCommand::Create {
            tenant,
            label,
            json,
        } => {
            let pepper = key_opts.pepper(common)?;
            let key = auth::new_key(&pepper, &tenant, &label, now_ms());
            if !t.add_key(&key.record).await? {
                bail!(
                    "no tenant {tenant:?}: create it first with `docfleet tenants create {tenant}`"
                );
            }
            if json {
                let out = serde_json::json!({
                    "key": key.token, "key_id": key.record.key_id, "tenant": tenant,
                });
                println!("{out}");
            } else {
                println!("{}", key.token);
                eprintln!(
                    "key {} for tenant {tenant}: store it now, it is not shown again",
                    key.record.key_id
                );
            }
        }
        KeysCommand::List { of_tenant, json } => {
            let all = t.list_keys(of_tenant.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<14} {:<24} {:<8} LABEL", "KEY ID", "TENANT", "STATE");
                for k in &all {
                    let state = if k.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("{:<14} {:<24} {:<8} {}", k.key_id, k.tenant, state, k.label);
                }
            }
        }
        KeysCommand::Revoke { key_id } => {
            if !t.revoke_key(&key_id, now_ms()).await? {
                bail!("no active key {key_id:?}");
            }
            eprintln!("key {key_id} revoked");
        }
    }
    store.close().await;
    Ok(())
}
