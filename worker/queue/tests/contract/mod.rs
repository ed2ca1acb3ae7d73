//! The `JobQueue` contract: what every queue adapter promises the worker runtime (the seam's
//! docs in worker/queue/src/lib.rs; "Delivery semantics" in docs/ARCHITECTURE.md), written once
//! in `cases`. worker/queue/tests/queue_contract.rs runs it against RabbitMQ, SQS (moto) and
//! Kafka (librdkafka's mock cluster); worker/jobstore/tests/queue_contract.rs against the
//! job-table queue on PostgreSQL and SQLite.
//!
//! Shared as a file (`#[path]` from the job store's tests), not as a module of docfleet-queue
//! behind a cargo feature: a feature the job store turned on in its dev-dependencies would be
//! unified into the queue library of every test build, so `cargo build` and `cargo test` would
//! each rebuild the queue crate and everything above it (the worker); and the queue library
//! ships no test code. This folder uses nothing but the seam and the job message.
//!
//! No order is promised (SQS standard queues reorder, Kafka orders per partition only), so the
//! cases compare sets. Where adapters legitimately differ, the harness says so in [`Caps`].
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod cases;
#[path = "../common/mod.rs"]
pub mod common;

use std::time::Duration;

use async_trait::async_trait;
use docfleet_core::job::JobMessage;
use docfleet_queue::{Delivery, JobQueue, Result, TraceContext};

/// How an adapter differs where the contract lets it.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// How long a delivery stays its consumer's without a heartbeat (`extend`): SQS's visibility
    /// timeout, the job row's lease. `None`: no per-message lease (RabbitMQ holds a delivery
    /// until its connection goes or the consumer timeout, Kafka until the group session ends),
    /// so `extend` is a no-op that only has to be accepted.
    pub lease: Option<Duration>,
    /// A delivery lost with its consumer comes back as the next attempt. Kafka has no delivery
    /// count: its redelivery keeps the attempt (the job store counts those attempts).
    pub counts_lost_deliveries: bool,
    /// Any bytes travel as a body, empty and non-UTF-8 too (SQS bodies are non-empty text).
    pub binary_bodies: bool,
    /// How long a new consumer may take before it would receive what is waiting (Kafka: joining
    /// the group and getting partitions), so "nothing came" after a restart means something.
    pub rejoin: Duration,
}

/// A verdict of the runtime on a delivery (see the `JobQueue` methods of the same names).
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    Ack,
    Retry(Duration),
    Defer(Duration),
    DeadLetter(&'a str),
    Extend(Duration),
    Release,
}

/// A message in the adapter's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub body: Vec<u8>,
    pub reason: String,
    pub trace: TraceContext,
}

/// What a case needs of an adapter: fresh, uniquely named queues (made by the suite's runner),
/// a producer, the runtime's verdicts, losing the consumer, and a look into the dead letters.
#[async_trait]
pub trait QueueHarness: Send + Sync {
    fn caps(&self) -> Caps;

    /// The consumer under test.
    fn queue(&self) -> &dyn JobQueue;

    /// Submits a job as the API does; returns once it is stored.
    async fn submit(&self, msg: &JobMessage, trace: &TraceContext);

    /// Publishes a body that is not a job message. Only adapters whose messages are bytes run
    /// the case that calls it (the job-table queue's messages are its rows).
    async fn publish_raw(&self, _body: &[u8]) {
        panic!("this adapter carries only job messages: leave the case out of its suite")
    }

    /// The runtime's verdict: for a broker the queue call alone; for the job-table queue the
    /// job-store transition that is its verdict, then the queue call.
    async fn settle(&self, d: &Delivery, verdict: Verdict<'_>) -> Result<()>;

    /// The consumer goes away without settling what it holds (a crash, or a shutdown after its
    /// releases) and a new one takes its place.
    async fn restart_consumer(&mut self);

    /// Everything dead-lettered so far.
    async fn dead_letters(&self) -> Vec<DeadLetter>;

    async fn ack(&self, d: &Delivery) {
        self.settle(d, Verdict::Ack).await.expect("ack");
    }

    async fn retry(&self, d: &Delivery, after: Duration) {
        self.settle(d, Verdict::Retry(after)).await.expect("retry");
    }

    async fn defer(&self, d: &Delivery, after: Duration) {
        self.settle(d, Verdict::Defer(after)).await.expect("defer");
    }

    async fn dead_letter(&self, d: &Delivery, reason: &str) {
        let verdict = Verdict::DeadLetter(reason);
        self.settle(d, verdict).await.expect("dead_letter");
    }

    async fn extend(&self, d: &Delivery, lease: Duration) {
        self.settle(d, Verdict::Extend(lease))
            .await
            .expect("extend");
    }

    async fn release(&self, d: &Delivery) {
        self.settle(d, Verdict::Release).await.expect("release");
    }
}

/// `verdict` as the queue call of the same name.
pub async fn settle_on(q: &dyn JobQueue, d: &Delivery, verdict: Verdict<'_>) -> Result<()> {
    match verdict {
        Verdict::Ack => q.ack(d).await,
        Verdict::Retry(after) => q.retry(d, after).await,
        Verdict::Defer(after) => q.defer(d, after).await,
        Verdict::DeadLetter(reason) => q.dead_letter(d, reason).await,
        Verdict::Extend(lease) => q.extend(d, lease).await,
        Verdict::Release => q.release(d).await,
    }
}

/// One `#[tokio::test]` per case, in module `$adapter`, each running `$run(case)`: `$run` makes
/// the adapter's harness, hands it to the case, and cleans up. With `without_raw_bodies`, the
/// case that needs [`QueueHarness::publish_raw`] is left out.
macro_rules! contract_suite {
    ($adapter:ident, $run:path) => {
        $crate::contract::contract_suite!(@module $adapter, $run,
            bodies_that_are_not_jobs_arrive_untouched_and_dead_letter_like_jobs);
    };
    ($adapter:ident, $run:path, without_raw_bodies) => {
        $crate::contract::contract_suite!(@module $adapter, $run);
    };
    (@module $adapter:ident, $run:path $(, $extra:ident)*) => {
        mod $adapter {
            $crate::contract::contract_suite!(@tests $run;
                jobs_arrive_intact_once_and_acked_jobs_never_return,
                retry_hides_the_job_for_its_delay_and_counts_an_attempt,
                defer_hides_the_job_for_its_delay_without_counting_an_attempt,
                dead_letter_keeps_the_body_reason_and_trace_and_the_job_never_returns,
                an_unsettled_job_comes_back_when_its_consumer_is_lost,
                extend_keeps_a_long_job_from_coming_back,
                shutdown_releases_every_job_to_the_next_consumer_uncounted,
                the_trace_context_travels_through_retry_defer_and_release,
                a_delivery_made_by_another_adapter_is_refused
                $(, $extra)*
            );
        }
    };
    (@tests $run:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $run($crate::contract::cases::$case).await;
            }
        )*
    };
}
pub(crate) use contract_suite;
