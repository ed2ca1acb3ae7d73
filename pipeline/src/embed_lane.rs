//! The embed lane: one dedicated thread owns the model and serves every in-flight document.
//!
//! Requests that arrive while the model is busy are merged into the next call, so several small
//! documents fill one batch (cross-job batching); the embedder itself then groups texts by
//! length under its token budget. Busy time is counted so benchmarks can tell whether the
//! pipeline is bound by the model or by waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use docfleet_models::Embedder;
use tokio::sync::oneshot;

use crate::{Error, Result};

type Reply = oneshot::Sender<std::result::Result<Vec<Vec<f32>>, String>>;

struct Request {
    texts: Vec<String>,
    reply: Reply,
}

/// Counters of the lane, shared with whoever reports on it.
#[derive(Debug, Default)]
pub struct EmbedLaneStats {
    pub busy_nanos: AtomicU64,
    pub calls: AtomicU64,
    pub texts: AtomicU64,
}

impl EmbedLaneStats {
    pub fn busy_secs(&self) -> f64 {
        self.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// Told about every model call the lane makes (for metrics: batch sizes and busy time).
pub trait EmbedCallObserver: Send + Sync {
    /// One call of the model on `texts` texts (merged from `requests` requests), taking `busy`.
    fn embed_call(&self, texts: usize, requests: usize, busy: Duration);
}

#[derive(Clone)]
pub struct EmbedLane {
    tx: mpsc::Sender<Request>,
    stats: Arc<EmbedLaneStats>,
}

impl EmbedLane {
    /// Starts the lane's thread. `max_texts_per_call` bounds how many texts from queued
    /// requests are merged into one call (one request is never split).
    pub fn start(embedder: Arc<dyn Embedder>, max_texts_per_call: usize) -> Self {
        Self::start_observed(embedder, max_texts_per_call, None)
    }

    /// `start`, telling `observer` about every model call.
    pub fn start_observed(
        embedder: Arc<dyn Embedder>,
        max_texts_per_call: usize,
        observer: Option<Arc<dyn EmbedCallObserver>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Request>();
        let stats = Arc::new(EmbedLaneStats::default());
        let lane_stats = stats.clone();
        std::thread::Builder::new()
            .name("embed-lane".into())
            .spawn(move || {
                let lane = Lane {
                    embedder: embedder.as_ref(),
                    stats: &lane_stats,
                    observer: observer.as_deref(),
                };
                lane.serve(&rx, max_texts_per_call.max(1))
            })
            .expect("spawning the embed lane thread");
        Self { tx, stats }
    }

    pub fn stats(&self) -> Arc<EmbedLaneStats> {
        self.stats.clone()
    }

    /// Vectors for `texts`, in order.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { texts, reply })
            .map_err(|_| Error::EmbedLane("the embed lane has stopped".into()))?;
        rx.await
            .map_err(|_| Error::EmbedLane("the embed lane dropped a request".into()))?
            .map_err(Error::EmbedLane)
    }
}

/// The lane thread's state.
struct Lane<'a> {
    embedder: &'a dyn Embedder,
    stats: &'a EmbedLaneStats,
    observer: Option<&'a dyn EmbedCallObserver>,
}

impl Lane<'_> {
    fn serve(&self, rx: &mpsc::Receiver<Request>, max_texts: usize) {
        let mut pending: Option<Request> = None;
        loop {
            let first = match pending.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return, // every sender is gone
                },
            };
            let mut total = first.texts.len();
            let mut batch = vec![first];
            while total < max_texts {
                match rx.try_recv() {
                    Ok(r) if total + r.texts.len() <= max_texts => {
                        total += r.texts.len();
                        batch.push(r);
                    }
                    Ok(r) => {
                        pending = Some(r);
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.run_batch(batch, total);
        }
    }

    fn run_batch(&self, batch: Vec<Request>, total: usize) {
        let (embedder, stats) = (self.embedder, self.stats);
        let texts: Vec<&str> = batch
            .iter()
            .flat_map(|r| r.texts.iter().map(String::as_str))
            .collect();
        let started = Instant::now();
        let result = embedder.embed(&texts);
        let busy = started.elapsed();
        stats
            .busy_nanos
            .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
        if let Some(observer) = self.observer {
            observer.embed_call(total, batch.len(), busy);
        }
        stats.calls.fetch_add(1, Ordering::Relaxed);
        stats.texts.fetch_add(total as u64, Ordering::Relaxed);
        match result {
            Ok(vectors) if vectors.len() == total => {
                let mut vectors = vectors.into_iter();
                for req in batch {
                    let mine: Vec<Vec<f32>> = vectors.by_ref().take(req.texts.len()).collect();
                    let _ = req.reply.send(Ok(mine)); // the requester may have gone; nothing to do
                }
            }
            Ok(vectors) => {
                let msg = format!("model returned {} vectors for {total} texts", vectors.len());
                batch
                    .into_iter()
                    .for_each(|r| drop(r.reply.send(Err(msg.clone()))));
            }
            Err(e) => {
                let msg = e.to_string();
                batch
                    .into_iter()
                    .for_each(|r| drop(r.reply.send(Err(msg.clone()))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stand-in that records call sizes: the lane's merging logic is what is
    /// under test here (the real model is exercised by the models crate and end-to-end tests).
    struct CountingEmbedder(std::sync::Mutex<Vec<usize>>);

    impl Embedder for CountingEmbedder {
        fn embed(&self, texts: &[&str]) -> docfleet_models::Result<Vec<Vec<f32>>> {
            self.0.lock().unwrap().push(texts.len());
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
        fn dims(&self) -> usize {
            1
        }
        fn max_tokens(&self) -> usize {
            8
        }
        fn model_id(&self) -> &str {
            "counting"
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn merges_concurrent_requests_and_keeps_order() {
        let embedder = Arc::new(CountingEmbedder(Default::default()));
        let lane = EmbedLane::start(embedder.clone(), 64);
        let mut tasks = Vec::new();
        for doc in 0..8 {
            let lane = lane.clone();
            tasks.push(tokio::spawn(async move {
                let texts: Vec<String> = (0..5).map(|i| "x".repeat(doc * 10 + i)).collect();
                let want: Vec<Vec<f32>> = texts.iter().map(|t| vec![t.len() as f32]).collect();
                assert_eq!(lane.embed(texts).await.unwrap(), want);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let calls = embedder.0.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), 40);
        assert!(
            calls.len() < 8,
            "requests queued behind a busy model are merged: {calls:?}"
        );
        assert!(calls.iter().all(|&n| n <= 64));
        assert_eq!(lane.stats().texts.load(Ordering::Relaxed), 40);
    }
}
