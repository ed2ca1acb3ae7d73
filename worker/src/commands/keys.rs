//! `docfleet keys …`: tenants' API keys in the job store. Creating a key and revoking one are
//! recorded in the audit trail (key id `cli`); a record that cannot be written fails the command
//! after the change is made and shown.

use anyhow::{Result, bail};
use docfleet_jobstore::{AuditOutcome, KeyRole, now_ms};

use crate::auth;
use crate::cli::KeysCommand;
use crate::commands::audit::record_cli;
use crate::settings::{CommonOpts, KeyOpts, StoreOpts};
use crate::wiring;

pub async fn keys(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    key_opts: &KeyOpts,
    which: KeysCommand,
) -> Result<()> {
    let store = wiring::open_job_store(common, store_opts).await?;
    let t = store.tenants();
    match which {
        KeysCommand::Create {
            tenant,
            label,
            admin,
            json,
        } => {
            let pepper = key_opts.pepper(common)?;
            let role = if admin {
                KeyRole::Admin
            } else {
                KeyRole::Member
            };
            let key = auth::new_key(&pepper, &tenant, &label, role, now_ms());
            if !t.add_key(&key.record).await? {
                bail!(
                    "no tenant {tenant:?}: create it first with `docfleet tenants create {tenant}`"
                );
            }
            // Shown below whatever happens: the key exists now.
            let recorded = record_cli(
                store.as_ref(),
                &tenant,
                "key.create",
                Some(&key.record.key_id),
                AuditOutcome::Ok,
            )
            .await;
            if json {
                let out = serde_json::json!({
                    "key": key.token, "key_id": key.record.key_id, "tenant": tenant,
                    "role": role,
                });
                println!("{out}");
            } else {
                println!("{}", key.token);
                eprintln!(
                    "key {} for tenant {tenant}: store it now, it is not shown again",
                    key.record.key_id
                );
            }
            recorded?;
        }
        KeysCommand::List { of_tenant, json } => {
            let all = t.list_keys(of_tenant.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<14} {:<24} {:<8} {:<7} LABEL",
                    "KEY ID", "TENANT", "STATE", "ROLE"
                );
                for k in &all {
                    let state = if k.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<14} {:<24} {:<8} {:<7} {}",
                        k.key_id,
                        k.tenant,
                        state,
                        k.role.as_str(),
                        k.label
                    );
                }
            }
        }
        KeysCommand::Revoke { key_id } => {
            // Recorded under the key's tenant; a key that does not exist has none.
            let Some(key) = t.key(&key_id).await? else {
                bail!("no active key {key_id:?}");
            };
            let revoked = t.revoke_key(&key_id, now_ms()).await?;
            let outcome = if revoked {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Error
            };
            record_cli(
                store.as_ref(),
                &key.tenant,
                "key.revoke",
                Some(&key_id),
                outcome,
            )
            .await?;
            if !revoked {
                bail!("no active key {key_id:?}");
            }
            eprintln!("key {key_id} revoked");
        }
    }
    store.close().await;
    Ok(())
}
