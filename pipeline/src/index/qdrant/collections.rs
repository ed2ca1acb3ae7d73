//! The adapter's collections: created with docfleet's layout and payload indexes on first use,
//! or checked against it when they exist; once per collection and process.

use std::collections::HashSet;
use std::sync::MutexGuard;

use super::{QdrantIndex, layout};
use crate::{Error, Result};

impl QdrantIndex {
    /// Creates `name` (cosine, `dims`) with its payload indexes, or checks the existing one.
    pub(super) async fn ensure(&self, name: &str, dims: u64) -> Result<()> {
        if self.lock_ready().contains(name) {
            return Ok(());
        }
        let c = &self.client;
        if !self
            .call("collection_exists", || c.collection_exists(name))
            .await?
        {
            let created = self
                .call("create_collection", || {
                    c.create_collection(layout::create_collection(name, dims))
                })
                .await;
            // Another worker may have created it in the meantime: then check it like any other.
            if let Err(e) = created
                && !self
                    .call("collection_exists", || c.collection_exists(name))
                    .await?
            {
                return Err(e);
            }
        }
        self.check_layout(name, dims).await?;
        // Creating an index that exists is a no-op, so this also repairs a collection made by hand.
        for req in layout::payload_indexes(name) {
            self.call("create_field_index", || c.create_field_index(req.clone()))
                .await?;
        }
        self.lock_ready().insert(name.to_owned());
        Ok(())
    }

    /// The collection's vectors are those [`layout::create_collection`] makes for `dims`.
    async fn check_layout(&self, name: &str, dims: u64) -> Result<()> {
        let info = self
            .call("collection_info", || self.client.collection_info(name))
            .await?;
        let params = info.result.and_then(|i| i.config).and_then(|c| c.params);
        layout::check_layout(name, params.as_ref(), dims).map_err(|e| Error::index(e, false))
    }

    fn lock_ready(&self) -> MutexGuard<'_, HashSet<String>> {
        self.ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's collection, ready for writes.
    pub(super) async fn writable(&self, tenant: &str) -> Result<String> {
        let Some(&dims) = self.dims.get() else {
            return Err(Error::index(
                "Qdrant: write before ensure_collection (the vector dimension is not set)",
                false,
            ));
        };
        let name = self.collection(tenant);
        self.ensure(&name, dims).await?;
        Ok(name)
    }
}
