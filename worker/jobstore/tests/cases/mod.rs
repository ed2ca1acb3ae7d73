//! The cases of the suite; each gets a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod document_locks;
mod lease_next;
mod listing;
mod tenants;
mod transitions;

pub use audit::*;
pub use document_locks::*;
pub use lease_next::*;
pub use listing::*;
pub use tenants::*;
pub use transitions::*;

use std::time::Duration;

use docfleet_jobstore::JobStore;

/// A lease that runs out within the test; long enough that it is still live a few statements
/// later on a loaded machine (200 ms once ran out early with every suite running at once).
pub const SHORT: Duration = Duration::from_millis(800);
/// A lease that does not.
pub const LONG: Duration = Duration::from_secs(60);

/// Sleeps past a `SHORT` lease.
pub async fn outlive_short_lease() {
    tokio::time::sleep(SHORT + Duration::from_millis(150)).await;
}

/// Whether `lease_next` for `worker` (up to `max` jobs) finds nothing to claim.
pub async fn claims_nothing(store: &dyn JobStore, worker: &str, max: usize) -> bool {
    store
        .lease_next(worker, max, LONG)
        .await
        .unwrap()
        .is_empty()
}
