//! One job per document at a time in this worker. Two versions of one document processed at
//! once would each delete the other's points after writing their own (`delete_doc_except`), and
//! could leave none; jobs for the same document therefore run one after the other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct DocLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a job runs; frees the document's entry when the last holder is done.
pub struct DocGuard<'a> {
    owner: &'a DocLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl DocLocks {
    /// Waits until no other job of this worker holds `key` (tenant + source), then holds it.
    pub async fn lock(&self, key: String) -> DocGuard<'_> {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = lock.lock_owned().await;
        DocGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for DocGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map holds the mutex now: nobody waits for it.
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_document_waits_other_documents_do_not() {
        let locks = Arc::new(DocLocks::default());
        let a = locks.lock("t\0a".into()).await;
        let _b = locks.lock("t\0b".into()).await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _a = locks.lock("t\0a".into()).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a second job of doc a waits");
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        drop(_b);
        let entries = locks.locks.lock().unwrap().len();
        assert_eq!(entries, 0, "entries are freed");
    }
}
