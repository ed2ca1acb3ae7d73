//! A tenant's current profile, read from the job store at most once per TTL per tenant: every
//! job (and API request) asks, so a new version reaches the whole fleet within the TTL, without
//! a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use docfleet_jobstore::JobStore;

use super::{ActiveProfile, Profile};

type Entry = (Instant, Option<Arc<ActiveProfile>>);

pub struct ProfileCache {
    store: Arc<dyn JobStore>,
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ProfileCache {
    pub fn new(store: Arc<dyn JobStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's profile (`None`: it has none, the fleet's settings apply). A store failure
    /// is an error (the job is retried), never "no profile": a tenant's redaction must not be
    /// skipped because the database blinked.
    pub async fn get(&self, tenant: &str) -> Result<Option<Arc<ActiveProfile>>> {
        if let Some((at, profile)) = self.entries().get(tenant)
            && at.elapsed() < self.ttl
        {
            return Ok(profile.clone());
        }
        let record = self
            .store
            .tenants()
            .profile(tenant)
            .await
            .with_context(|| format!("reading the profile of tenant {tenant}"))?;
        let profile = match record {
            None => None,
            Some(r) => Some(Arc::new(ActiveProfile {
                version: r.version,
                profile: Profile::from_json(&r.document).with_context(|| {
                    format!("the stored profile v{} of tenant {tenant}", r.version)
                })?,
            })),
        };
        self.entries()
            .insert(tenant.to_owned(), (Instant::now(), profile.clone()));
        Ok(profile)
    }

    /// Forgets a tenant's entry (after this process changed the profile).
    pub fn invalidate(&self, tenant: &str) {
        self.entries().remove(tenant);
    }
}
