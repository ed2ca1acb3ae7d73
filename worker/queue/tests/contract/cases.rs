//! The contract's cases, one function each, generic over the adapter's harness.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use docfleet_core::job::JobMessage;
use docfleet_queue::{Delivery, DeliveryHandle, Error, TraceContext};

use super::common::{job, job_id, receive_n, trace};
use super::{DeadLetter, QueueHarness, Verdict};

/// How long a delivery that is due may take to arrive.
const WITHIN: Duration = Duration::from_secs(20);
/// How long "nothing comes" is watched.
const QUIET: Duration = Duration::from_secs(1);
/// The delay of the delayed verdicts: whole seconds (SQS), and over twice `QUIET`, since moto's
/// long polling may stretch a 1 s wait to nearly 2.
pub const DELAY: Duration = Duration::from_secs(3);
const REASON: &str = "file:///data/doc-0.pdf: corrupt PDF: no xref table";

fn untraced() -> TraceContext {
    TraceContext::default()
}

fn bodies(ds: &[Delivery]) -> BTreeSet<Vec<u8>> {
    ds.iter().map(|d| d.body.clone()).collect()
}

/// The one delivery that is due.
async fn one(h: &impl QueueHarness) -> Delivery {
    let mut got = receive_n(h.queue(), 1, WITHIN).await;
    assert_eq!(got.len(), 1, "nothing was delivered within {WITHIN:?}");
    got.remove(0)
}

async fn assert_nothing_within(h: &impl QueueHarness, wait: Duration) {
    let got = h.queue().receive(1, wait).await.expect("receive");
    assert!(got.is_empty(), "unexpectedly delivered: {got:?}");
}

/// Submitted jobs come through the producer to the consumer once each, bodies byte for byte, as
/// attempt 1; acked ones are gone for good, also for a new consumer, and the depth says so.
pub async fn jobs_arrive_intact_once_and_acked_jobs_never_return<H: QueueHarness>(mut h: H) {
    // More than one receive batch (SQS hands out at most 10).
    let sent: Vec<JobMessage> = (0..12).map(job).collect();
    for msg in &sent {
        h.submit(msg, &untraced()).await;
    }
    let got = receive_n(h.queue(), sent.len(), WITHIN).await;
    assert_eq!(got.len(), sent.len(), "each job exactly once");
    let want: BTreeSet<_> = sent.iter().map(JobMessage::to_bytes).collect();
    assert_eq!(bodies(&got), want);
    for d in &got {
        assert_eq!((d.attempt, &d.trace), (1, &untraced()));
        h.ack(d).await;
    }
    assert_nothing_within(&h, QUIET).await;
    // Brokers count asynchronously (Kafka commits every 250 ms): watch the depth settle.
    let deadline = Instant::now() + WITHIN;
    loop {
        let depth = h.queue().depth().await.expect("depth");
        if depth.ready == Some(0) && depth.unacked.unwrap_or(0) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "after the acks: {depth:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.restart_consumer().await;
    assert_nothing_within(&h, h.caps().rejoin).await;
}

/// `verdict` on the one delivery of a fresh job: hidden for `DELAY`, then back as `attempt`.
async fn back_after_the_delay(h: &impl QueueHarness, verdict: Verdict<'_>, attempt: u32) {
    h.submit(&job(0), &untraced()).await;
    let first = one(h).await;
    let settled_at = Instant::now();
    h.settle(&first, verdict).await.expect("verdict");
    assert_nothing_within(h, QUIET).await;
    let again = one(h).await;
    let waited = settled_at.elapsed();
    assert!(waited >= DELAY, "back after {waited:?}, before its delay");
    assert_eq!((&again.body, again.attempt), (&first.body, attempt));
    h.ack(&again).await;
}

pub async fn retry_hides_the_job_for_its_delay_and_counts_an_attempt<H: QueueHarness>(h: H) {
    back_after_the_delay(&h, Verdict::Retry(DELAY), 2).await;
}

/// Waiting for another worker (or the job's document) is not an attempt.
pub async fn defer_hides_the_job_for_its_delay_without_counting_an_attempt<H: QueueHarness>(h: H) {
    back_after_the_delay(&h, Verdict::Defer(DELAY), 1).await;
}

pub async fn dead_letter_keeps_the_body_reason_and_trace_and_the_job_never_returns<
    H: QueueHarness,
>(
    mut h: H,
) {
    let msg = job(0);
    h.submit(&msg, &trace()).await;
    let d = one(&h).await;
    h.dead_letter(&d, REASON).await;
    assert_nothing_within(&h, QUIET).await;
    h.restart_consumer().await;
    assert_nothing_within(&h, h.caps().rejoin).await;
    let want = DeadLetter {
        body: msg.to_bytes(),
        reason: REASON.to_owned(),
        trace: trace(),
    };
    assert_eq!(h.dead_letters().await, [want]);
}

/// The adapter never parses a body: the runtime does, and dead-letters one it cannot parse.
pub async fn bodies_that_are_not_jobs_arrive_untouched_and_dead_letter_like_jobs<
    H: QueueHarness,
>(
    h: H,
) {
    let mut sent: Vec<Vec<u8>> = vec![b"not json {".to_vec(), br#"{"version":99}"#.to_vec()];
    if h.caps().binary_bodies {
        sent.extend([Vec::new(), vec![0, 159, 146, 150, 255, 10]]);
    }
    for body in &sent {
        h.publish_raw(body).await;
    }
    let got = receive_n(h.queue(), sent.len(), WITHIN).await;
    assert_eq!(got.len(), sent.len());
    let want: BTreeSet<_> = sent.into_iter().collect();
    assert_eq!(bodies(&got), want);
    for d in &got {
        h.dead_letter(d, "malformed job message").await;
    }
    let dead = h.dead_letters().await;
    assert!(dead.iter().all(|dl| dl.reason == "malformed job message"));
    let dead_bodies: BTreeSet<_> = dead.into_iter().map(|dl| dl.body).collect();
    assert_eq!(dead_bodies, want);
    assert_nothing_within(&h, QUIET).await;
}

/// A worker that crashes holding a job: the job is not lost; it comes back once the lease runs
/// out (or at once, where the consumer's connection was the lease).
pub async fn an_unsettled_job_comes_back_when_its_consumer_is_lost<H: QueueHarness>(mut h: H) {
    h.submit(&job(0), &untraced()).await;
    let first = one(&h).await;
    assert_eq!(first.attempt, 1);
    h.restart_consumer().await;
    let caps = h.caps();
    let within = caps.lease.unwrap_or_default() + WITHIN;
    let again = receive_n(h.queue(), 1, within).await;
    assert_eq!(again.len(), 1, "the lost delivery never came back");
    let attempt = if caps.counts_lost_deliveries { 2 } else { 1 };
    assert_eq!((&again[0].body, again[0].attempt), (&first.body, attempt));
    h.ack(&again[0]).await;
    assert_nothing_within(&h, QUIET).await;
}

/// A job running for 2.5 leases, extending its lease as the runtime's heartbeat does, is
/// delivered to nobody else meanwhile, nor after its ack.
pub async fn extend_keeps_a_long_job_from_coming_back<H: QueueHarness>(h: H) {
    let lease = h.caps().lease.unwrap_or(Duration::from_secs(1));
    h.submit(&job(0), &untraced()).await;
    let d = one(&h).await;
    let started = Instant::now();
    while started.elapsed() < lease * 5 / 2 {
        h.extend(&d, lease).await;
        // Not a long poll: moto's may outlast the lease.
        let got = h.queue().receive(1, Duration::ZERO).await.expect("receive");
        assert!(got.is_empty(), "redelivered while running: {got:?}");
        tokio::time::sleep(lease / 3).await;
    }
    h.ack(&d).await;
    assert_nothing_within(&h, lease + QUIET).await;
}

/// The runtime's shutdown, which gives back what it holds: stop consuming, release `held` and
/// what the adapter had fetched but not handed out yet (left to a disconnect, those would count
/// as lost deliveries); then a new consumer takes over.
async fn shut_down_releasing(h: &mut impl QueueHarness, held: &[Delivery]) {
    let prefetched = h.queue().stop_consuming().await.expect("stop_consuming");
    for d in held.iter().chain(&prefetched) {
        h.release(d).await;
    }
    h.restart_consumer().await;
}

/// Shutdown loses nothing: the next consumer gets every job, given back or never handed out,
/// and giving a job back was no attempt.
pub async fn shutdown_releases_every_job_to_the_next_consumer_uncounted<H: QueueHarness>(mut h: H) {
    let sent: Vec<JobMessage> = (0..3).map(job).collect();
    for msg in &sent {
        h.submit(msg, &untraced()).await;
    }
    let first = one(&h).await;
    shut_down_releasing(&mut h, &[first]).await;
    let got = receive_n(h.queue(), sent.len(), WITHIN).await;
    assert_eq!(got.len(), sent.len());
    let want: BTreeSet<_> = sent.iter().map(JobMessage::to_bytes).collect();
    assert_eq!(bodies(&got), want);
    for d in &got {
        assert_eq!(d.attempt, 1, "released, not counted");
        h.ack(d).await;
    }
}

/// The submitter's trace context rides beside the body, through every copy an adapter makes
/// (the dead letter's is checked with the dead letter); a job submitted without one has none.
pub async fn the_trace_context_travels_through_retry_defer_and_release<H: QueueHarness>(mut h: H) {
    let (traced, plain) = (job(0), job(1));
    h.submit(&traced, &trace()).await;
    h.submit(&plain, &untraced()).await;
    let mut got = receive_n(h.queue(), 2, WITHIN).await;
    assert_eq!(got.len(), 2);
    got.sort_by_key(|d| job_id(d) != traced.job_id);
    let (d, untraced_delivery) = (got.remove(0), got.remove(0));
    assert_eq!(d.trace, trace());
    assert_eq!(job_id(&untraced_delivery), plain.job_id);
    assert!(untraced_delivery.trace.is_empty());
    h.ack(&untraced_delivery).await;

    let traced_again = |d: &Delivery| (job_id(d), d.attempt, d.trace.clone());
    let want = (traced.job_id, 2, trace());
    h.retry(&d, Duration::ZERO).await;
    let d = one(&h).await;
    assert_eq!(traced_again(&d), want, "after retry");
    h.defer(&d, Duration::ZERO).await;
    let d = one(&h).await;
    assert_eq!(traced_again(&d), want, "after defer");
    shut_down_releasing(&mut h, &[d]).await;
    let d = one(&h).await;
    assert_eq!(traced_again(&d), want, "after release");
    h.ack(&d).await;
}

/// Every verdict checks the handle before doing anything: another adapter's delivery is
/// refused (not retryable), publishes no copy, and leaves the adapter's own deliveries alone.
pub async fn a_delivery_made_by_another_adapter_is_refused<H: QueueHarness>(h: H) {
    h.submit(&job(0), &untraced()).await;
    let d = one(&h).await;
    let foreign = Delivery {
        body: d.body.clone(),
        attempt: d.attempt,
        trace: d.trace.clone(),
        handle: DeliveryHandle::new(()),
    };
    let q = h.queue();
    let refusals = [
        ("ack", q.ack(&foreign).await),
        ("retry", q.retry(&foreign, Duration::ZERO).await),
        ("defer", q.defer(&foreign, Duration::ZERO).await),
        ("dead_letter", q.dead_letter(&foreign, REASON).await),
        ("extend", q.extend(&foreign, QUIET).await),
        ("release", q.release(&foreign).await),
    ];
    for (verdict, result) in refusals {
        match result {
            Err(e @ Error::ForeignHandle) => assert!(!e.is_retryable()),
            other => panic!("{verdict} of a foreign delivery: {other:?}"),
        }
    }
    // The job's own delivery still settles, and no refusal left a copy behind.
    h.ack(&d).await;
    assert_nothing_within(&h, QUIET).await;
    assert!(h.dead_letters().await.is_empty());
}
