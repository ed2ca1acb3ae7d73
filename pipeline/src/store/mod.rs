//! The object storage port: source documents and artifacts, keyed by content hash.
//!
//! Adapters: [`local::LocalStore`] (a folder; the embedded default) and `s3::S3Store` (a bucket,
//! feature `s3`), with the same key layout.

pub mod local;
pub mod s3;

use async_trait::async_trait;

use crate::{Error, Result};

/// A validated object key: relative, `/`-separated, no empty, `.` or `..` segments, so a key
/// can never escape the store's root, whatever a document's name was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let bad_segment = key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.contains(['\\', '\0']));
        if key.is_empty() || key.len() > 1024 || bad_segment {
            return Err(Error::store(format!("invalid object key {key:?}"), false));
        }
        Ok(Self(key))
    }

    /// `<tenant>/<doc_id>/<content_sha256>/<name>`: the layout shared by every store.
    pub fn artifact(tenant: &str, doc_id: &str, content_sha256: &str, name: &str) -> Result<Self> {
        Self::new(format!("{tenant}/{doc_id}/{content_sha256}/{name}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size_bytes: u64,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's bytes; a missing object is a non-retryable `Store` error.
    async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>>;
    /// Writes the object atomically: readers see the old object or the whole new one.
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>) -> Result<()>;
    /// Metadata, or `None` when there is no such object.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>>;
    /// The object as a job source (`file:///…` or `s3://bucket/…`), for documents stored here
    /// first (API uploads).
    fn source_uri(&self, key: &ObjectKey) -> String;
    /// The inverse of [`Self::source_uri`]: the key, when `uri` names an object of this store.
    fn key_of_source(&self, uri: &str) -> Option<ObjectKey>;
    /// Every object under `prefix/`, in key order.
    async fn list(&self, prefix: &ObjectKey) -> Result<Vec<ObjectKey>>;
    /// Deletes the objects; one already gone is not an error.
    async fn delete(&self, keys: &[ObjectKey]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        for bad in [
            "", "/abs", "a//b", "a/../b", "..", "a/./b", "a/", "a\\b", "a\0b",
        ] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?} must be rejected");
        }
        let k = ObjectKey::artifact("t", "d", "sha", "text.json").unwrap();
        assert_eq!(k.as_str(), "t/d/sha/text.json");
    }
}
