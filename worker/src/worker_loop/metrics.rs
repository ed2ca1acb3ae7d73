//! The worker's Prometheus metrics (`/metrics`), all prefixed `docfleet_`.

use std::sync::Arc;
use std::time::Duration;

use docfleet_pipeline::artifacts::LaneTimings;
use docfleet_pipeline::embed_lane::EmbedCallObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a delivery ended, from the worker's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcomeLabel {
    /// Indexed a new version.
    Succeeded,
    /// The same bytes and pipeline version were already indexed.
    Unchanged,
    /// Failed transiently; delivered again after a delay.
    Retried,
    /// Failed for good (bad document, bad message, attempts exhausted): dead-lettered.
    Dead,
    /// Given back at shutdown.
    Released,
    /// A redelivery of a job already finished: acknowledged, not redone.
    Duplicate,
    /// Another worker holds the job's lease: delivered again once it runs out.
    Deferred,
    /// This worker lost the job's lease to another worker mid-run and stopped.
    LeaseLost,
}

impl JobOutcomeLabel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Unchanged => "unchanged",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::Released => "released",
            Self::Duplicate => "duplicate",
            Self::Deferred => "deferred",
            Self::LeaseLost => "lease_lost",
        }
    }
}

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The body is not a valid job message.
    Malformed,
    /// The document or the job's options are bad; retrying cannot help.
    Permanent,
    /// A transient failure outlived `max_attempts`.
    AttemptsExhausted,
}

impl DeadLetterReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Permanent => "permanent",
            Self::AttemptsExhausted => "attempts_exhausted",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Lane {
    lane: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
}

pub struct Metrics {
    registry: Registry,
    jobs: Family<Outcome, Counter>,
    lane_seconds: Family<Lane, Histogram>,
    job_seconds: Histogram,
    in_flight: Gauge,
    retries: Counter,
    dead_letters: Family<Reason, Counter>,
    queue_errors: Family<Operation, Counter>,
    pages: Counter,
    chunks: Counter,
    tokens: Counter,
    embed_batch_texts: Histogram,
    embed_batch_requests: Histogram,
    embed_busy_seconds: Counter<f64>,
    queue_ready: Gauge,
    queue_unacked: Gauge,
}

fn seconds_buckets() -> Histogram {
    // 5 ms … ~82 s
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut m = Metrics {
            registry: Registry::with_prefix("docfleet"),
            jobs: Family::default(),
            lane_seconds: Family::new_with_constructor(seconds_buckets),
            job_seconds: seconds_buckets(),
            in_flight: Gauge::default(),
            retries: Counter::default(),
            dead_letters: Family::default(),
            queue_errors: Family::default(),
            pages: Counter::default(),
            chunks: Counter::default(),
            tokens: Counter::default(),
            embed_batch_texts: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            embed_batch_requests: Histogram::new(exponential_buckets(1.0, 2.0, 7)),
            embed_busy_seconds: Counter::default(),
            queue_ready: Gauge::default(),
            queue_unacked: Gauge::default(),
        };
        m.registry
            .register("jobs", "Deliveries handled, by outcome", m.jobs.clone());
        m.registry.register(
            "lane_duration_seconds",
            "Time a document spent in each lane (extract, chunk, embed, index)",
            m.lane_seconds.clone(),
        );
        m.registry.register(
            "job_duration_seconds",
            "Time from start to verdict of a job attempt",
            m.job_seconds.clone(),
        );
        m.registry.register(
            "jobs_in_flight",
            "Jobs being processed now",
            m.in_flight.clone(),
        );
        m.registry.register(
            "job_retries",
            "Failed attempts sent back for a retry",
            m.retries.clone(),
        );
        m.registry.register(
            "dead_letters",
            "Messages dead-lettered, by reason",
            m.dead_letters.clone(),
        );
        m.registry.register(
            "queue_errors",
            "Broker or job store calls that failed, by operation",
            m.queue_errors.clone(),
        );
        m.registry
            .register("pages", "Pages extracted", m.pages.clone());
        m.registry
            .register("chunks", "Chunks embedded and indexed", m.chunks.clone());
        m.registry
            .register("tokens", "Tokens embedded", m.tokens.clone());
        m.registry.register(
            "embed_batch_texts",
            "Texts per model call (merged across jobs)",
            m.embed_batch_texts.clone(),
        );
        m.registry.register(
            "embed_batch_requests",
            "Documents' requests merged into one model call",
            m.embed_batch_requests.clone(),
        );
        m.registry.register(
            "embed_busy_seconds",
            "Time the model spent computing",
            m.embed_busy_seconds.clone(),
        );
        m.registry.register(
            "queue_ready_messages",
            "Jobs waiting in the queue, as the worker last saw it (-1: unknown)",
            m.queue_ready.clone(),
        );
        m.registry.register(
            "queue_unacked_messages",
            "Jobs delivered and not yet settled, as the worker last saw it (-1: unknown)",
            m.queue_unacked.clone(),
        );
        Arc::new(m)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    pub fn job(&self, outcome: JobOutcomeLabel) {
        self.jobs
            .get_or_create(&Outcome {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn retried(&self) {
        self.retries.inc();
        self.job(JobOutcomeLabel::Retried);
    }

    pub fn dead_lettered(&self, reason: DeadLetterReason) {
        self.dead_letters
            .get_or_create(&Reason {
                reason: reason.as_str(),
            })
            .inc();
        self.job(JobOutcomeLabel::Dead);
    }

    pub fn queue_error(&self, operation: &'static str) {
        self.queue_errors
            .get_or_create(&Operation { operation })
            .inc();
    }

    pub fn job_started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(self)
    }

    pub fn job_took(&self, took: Duration) {
        self.job_seconds.observe(took.as_secs_f64());
    }

    /// A document indexed: its lanes' durations and its counts.
    pub fn document(&self, timings: &LaneTimings, pages: u64, chunks: u64, tokens: u64) {
        for (lane, ms) in timings.lanes() {
            self.lane_seconds
                .get_or_create(&Lane { lane })
                .observe(ms / 1e3);
        }
        self.pages.inc_by(pages);
        self.chunks.inc_by(chunks);
        self.tokens.inc_by(tokens);
    }

    pub fn queue_depth(&self, ready: Option<u64>, unacked: Option<u64>) {
        let gauge = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        self.queue_ready.set(gauge(ready));
        self.queue_unacked.set(gauge(unacked));
    }
}

/// Counts a job in flight while it lives.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

impl EmbedCallObserver for Metrics {
    fn embed_call(&self, texts: usize, requests: usize, busy: Duration) {
        self.embed_batch_texts.observe(texts as f64);
        self.embed_batch_requests.observe(requests as f64);
        self.embed_busy_seconds.inc_by(busy.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prefixed_families() {
        let m = Metrics::new();
        m.job(JobOutcomeLabel::Succeeded);
        m.dead_lettered(DeadLetterReason::Malformed);
        m.embed_call(12, 3, Duration::from_millis(40));
        m.document(
            &LaneTimings {
                extract_ms: 10.0,
                ..LaneTimings::default()
            },
            2,
            3,
            400,
        );
        {
            let _running = m.job_started();
            assert!(m.render().contains("docfleet_jobs_in_flight 1"));
        }
        let text = m.render();
        for want in [
            "docfleet_jobs_total{outcome=\"succeeded\"} 1",
            "docfleet_jobs_total{outcome=\"dead\"} 1",
            "docfleet_dead_letters_total{reason=\"malformed\"} 1",
            "docfleet_embed_batch_texts_count 1",
            "docfleet_embed_batch_texts_sum 12.0",
            "docfleet_lane_duration_seconds_count{lane=\"extract\"} 1",
            "docfleet_tokens_total 400",
            "docfleet_jobs_in_flight 0",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
