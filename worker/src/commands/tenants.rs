//! `docfleet tenants …`: tenants and their profiles in the job store (their keys: keys.rs).
//! Creating a tenant and setting a profile are recorded in the audit trail (key id `cli`); a
//! record that cannot be written fails the command after the change is made and shown.

use anyhow::{Context, Result, bail};
use docfleet_core::tenant::validate_tenant;
use docfleet_jobstore::{AuditOutcome, JobStore, now_ms};

use crate::cli::{ProfileCommand, TenantsCommand};
use crate::commands::audit::record_cli;
use crate::profile::Profile;
use crate::settings::{CommonOpts, StoreOpts};
use crate::wiring;

pub async fn tenants(
    common: &CommonOpts,
    store_opts: &StoreOpts,
    which: TenantsCommand,
) -> Result<()> {
    let store = wiring::open_job_store(common, store_opts).await?;
    let t = store.tenants();
    match which {
        TenantsCommand::Create { name } => {
            validate_tenant(&name)?;
            if t.create_tenant(&name, now_ms()).await? {
                eprintln!("tenant {name} created");
                record_cli(
                    store.as_ref(),
                    &name,
                    "tenant.create",
                    Some(&name),
                    AuditOutcome::Ok,
                )
                .await?;
            } else {
                eprintln!("tenant {name} exists already");
            }
        }
        TenantsCommand::Profile { which } => profile(store.as_ref(), which).await?,
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

/// `tenants profile set` is recorded in the audit trail (`profile.set`, key id `cli`).
async fn profile(store: &dyn JobStore, which: ProfileCommand) -> Result<()> {
    let t = store.tenants();
    match which {
        ProfileCommand::Set { tenant, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let profile = Profile::from_toml(&text)
                .with_context(|| format!("{} is not a valid profile", file.display()))?;
            let Some(version) = t
                .put_profile(&tenant, &profile.to_json(), "cli", now_ms())
                .await?
            else {
                bail!(
                    "no tenant {tenant:?}: create it first with `docfleet tenants create {tenant}`"
                );
            };
            eprintln!("profile v{version} of tenant {tenant} stored");
            let target = format!("profile v{version}");
            record_cli(
                store,
                &tenant,
                "profile.set",
                Some(&target),
                AuditOutcome::Ok,
            )
            .await?;
        }
        ProfileCommand::Show { tenant, json } => {
            let Some(record) = t.profile(&tenant).await? else {
                bail!("tenant {tenant:?} has no profile (the fleet's settings apply)");
            };
            let shown = Profile::from_json(&record.document)?.redacted();
            if json {
                let out = serde_json::json!({
                    "tenant": tenant, "version": record.version,
                    "created_at_ms": record.created_at_ms, "created_by": record.created_by,
                    "profile": shown,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "# tenant {tenant}, profile v{} (set by {})",
                    record.version, record.created_by
                );
                println!("{}", serde_json::to_string_pretty(&shown)?);
            }
        }
    }
    Ok(())
}
