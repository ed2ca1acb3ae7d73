//! Object store in a local folder, written with write-then-rename so a crash never leaves a
//! half-written object under its final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{ObjectKey, ObjectMeta, ObjectStore};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1.write_all(bytes)?;
    tmp.1.sync_data()?;
    std::fs::rename(&tmp.0, path)?;
    // Make the rename itself durable.
    std::fs::File::open(dir)?.sync_all()
}

/// A uniquely named temp file beside `path` (same filesystem, so the rename is atomic).
fn tempfile_in(dir: &Path, path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    for attempt in 0..16u32 {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free temp name beside {}",
        path.display()
    )))
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>> {
        match tokio::fs::read(self.path_of(key)).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::store(format!("no object {key}"), false))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>) -> Result<()> {
        let path = self.path_of(key);
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| Error::store_caused_by("writer task failed", e, true))??;
        Ok(())
    }

    fn source_uri(&self, key: &ObjectKey) -> String {
        let path = self.path_of(key);
        let abs = std::path::absolute(&path).unwrap_or(path);
        format!("file://{}", abs.display())
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(m) => Ok(Some(ObjectMeta {
                size_bytes: m.len(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn key_of_source(&self, uri: &str) -> Option<ObjectKey> {
        let root = std::path::absolute(&self.root).ok()?;
        let rest = Path::new(uri.strip_prefix("file://")?)
            .strip_prefix(&root)
            .ok()?;
        ObjectKey::new(rest.to_str()?).ok()
    }

    async fn list(&self, prefix: &ObjectKey) -> Result<Vec<ObjectKey>> {
        let root = self.root.clone();
        let dir = self.path_of(prefix);
        let mut keys = tokio::task::spawn_blocking(move || files_under(&root, &dir))
            .await
            .map_err(|e| Error::store_caused_by("listing task failed", e, true))??;
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, keys: &[ObjectKey]) -> Result<()> {
        for key in keys {
            let path = self.path_of(key);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => prune_empty_dirs(&self.root, &path).await,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Keys of the files under `dir` (none if it does not exist); temp files of unfinished writes
/// left out.
fn files_under(root: &Path, dir: &Path) -> Result<Vec<ObjectKey>> {
    let mut keys = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else if !is_temp(&path)
                && let Some(key) = path
                    .strip_prefix(root)
                    .ok()
                    .and_then(|k| k.to_str())
                    .and_then(|k| ObjectKey::new(k).ok())
            {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"))
}

/// Removes the folders left empty above a deleted file, up to (not including) the root.
async fn prune_empty_dirs(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
        // Fails (and stops) at the first folder that still holds something.
        if tokio::fs::remove_dir(d).await.is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_head_roundtrip_and_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let key = ObjectKey::new("t/d/sha/a.json").unwrap();
        assert_eq!(store.head(&key).await.unwrap(), None);
        assert!(!store.get(&key).await.unwrap_err().is_retryable());
        store.put(&key, b"one".to_vec()).await.unwrap();
        store.put(&key, b"three".to_vec()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), b"three");
        assert_eq!(
            store.head(&key).await.unwrap(),
            Some(ObjectMeta { size_bytes: 5 })
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("t/d/sha"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temp files left behind: {leftovers:?}"
        );
    }

    #[tokio::test]
    async fn lists_and_deletes_a_prefix_and_maps_source_uris_back_to_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let k = |s: &str| ObjectKey::new(s).unwrap();
        for key in [
            "t/d/v1/a.json",
            "t/d/v2/b.json",
            "t/other/v1/a.json",
            "t/dd/x",
        ] {
            store.put(&k(key), b"x".to_vec()).await.unwrap();
        }
        std::fs::write(dir.path().join("t/d/v1/.a.json.1.0.tmp"), b"partial").unwrap();
        let listed = store.list(&k("t/d")).await.unwrap();
        assert_eq!(listed, [k("t/d/v1/a.json"), k("t/d/v2/b.json")]);
        assert!(store.list(&k("t/none")).await.unwrap().is_empty());

        let uri = store.source_uri(&k("t/d/v1/a.json"));
        assert_eq!(store.key_of_source(&uri), Some(k("t/d/v1/a.json")));
        assert_eq!(store.key_of_source("file:///elsewhere/a.json"), None);
        assert_eq!(store.key_of_source("s3://b/t/d/v1/a.json"), None);

        store.delete(&listed).await.unwrap();
        store.delete(&listed).await.unwrap(); // already gone: fine
        assert!(
            !dir.path().join("t/d/v2").exists(),
            "emptied folders pruned"
        );
        assert_eq!(
            store.list(&k("t")).await.unwrap(),
            [k("t/dd/x"), k("t/other/v1/a.json")]
        );
    }
}
