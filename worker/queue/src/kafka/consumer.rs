//! The consumer side: one OS thread owns the librdkafka consumer and polls it all the time, so
//! group heartbeats, rebalances and `max.poll.interval.ms` are served even while every slot of
//! the worker is busy (then the partitions are paused, not the polling).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use docfleet_core::time::now_unix_millis;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::offsets::PartitionOffsets;
use super::{ATTEMPTS_BEFORE, NOT_BEFORE_MS};
use crate::{TRACEPARENT, TRACESTATE, TraceContext};

/// How often settled offsets are committed (asynchronously); revokes and close commit at once.
const COMMIT_EVERY: Duration = Duration::from_millis(250);
const POLL: Duration = Duration::from_millis(100);
/// How long closing waits for the group to take the partitions back.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

/// A received message, before it is handed out.
pub(super) struct Received {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub generation: u64,
    pub key: Option<Vec<u8>>,
    pub body: Vec<u8>,
    pub attempts_before: u32,
    pub trace: TraceContext,
    /// Unix ms before which a retry-topic message must not be handed out.
    pub not_before_ms: u64,
}

pub(super) type PartitionKey = (String, i32);

#[derive(Default)]
pub(super) struct State {
    pub partitions: HashMap<PartitionKey, PartitionOffsets>,
    pub ready: VecDeque<Received>,
    /// Retry-topic messages waiting for their time (in memory; their offsets stay uncommitted).
    pub held: Vec<Received>,
    /// Handed out by `receive` and not yet settled.
    pub handed_out: usize,
    next_generation: u64,
    paused: bool,
    /// `stop_consuming` was called: nothing more is handed out.
    pub stopped: bool,
}

pub(super) struct Shared {
    pub state: Mutex<State>,
    pub ready: tokio::sync::Notify,
    pub shutdown: AtomicBool,
    pub max_in_flight: usize,
}

impl Shared {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready: tokio::sync::Notify::new(),
            shutdown: AtomicBool::new(false),
            max_in_flight: max_in_flight.max(1),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The commit points that moved, as a list to commit.
fn commits(state: &mut State, only: Option<&TopicPartitionList>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), p) in &mut state.partitions {
        if only.is_some_and(|o| o.find_partition(topic, *partition).is_none()) {
            continue;
        }
        if let Some(point) = p.take_commit() {
            // Offsets are valid here: `add_partition_offset` only fails on a bad offset.
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(point));
        }
    }
    tpl
}

pub(super) struct Context {
    pub shared: Arc<Shared>,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        // Commit what is finished on the revoked partitions before the new owner starts there;
        // in-flight work of theirs is not committed by this worker (its verdicts find no tracker).
        let tpl = {
            let mut state = self.shared.lock();
            let tpl = commits(&mut state, Some(revoked));
            for e in revoked.elements() {
                state
                    .partitions
                    .remove(&(e.topic().to_owned(), e.partition()));
            }
            let gone = |r: &Received| revoked.find_partition(&r.topic, r.partition).is_some();
            state.ready.retain(|r| !gone(r));
            state.held.retain(|r| !gone(r));
            tpl
        };
        if tpl.count() > 0
            && let Err(e) = consumer.commit(&tpl, CommitMode::Sync)
        {
            warn!(error = %e, "committing revoked partitions failed; the new owner redoes from the last commit");
        }
        info!(partitions = revoked.count(), "Kafka partitions revoked");
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else {
            return;
        };
        let mut state = self.shared.lock();
        for e in assigned.elements() {
            state.next_generation += 1;
            let generation = state.next_generation;
            state.partitions.insert(
                (e.topic().to_owned(), e.partition()),
                PartitionOffsets::new(generation),
            );
        }
        // Newly assigned partitions start unpaused: re-check on the next turn.
        state.paused = false;
        info!(partitions = assigned.count(), "Kafka partitions assigned");
    }
}

fn header_str<'m>(m: &'m BorrowedMessage<'_>, name: &str) -> Option<&'m str> {
    m.headers()
        .and_then(|h| h.iter().find(|h| h.key == name))
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

fn header_u64(m: &BorrowedMessage<'_>, name: &str) -> u64 {
    header_str(m, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Polls until shutdown; then commits what is finished and closes the consumer (which revokes,
/// and so commits, the rest of the assignment).
pub(super) fn poll_loop(consumer: Arc<BaseConsumer<Context>>, shared: Arc<Shared>) {
    let mut last_commit = Instant::now();
    while !shared.shutdown.load(Ordering::Acquire) {
        flow_control(&consumer, &shared);
        release_due(&shared);
        if last_commit.elapsed() >= COMMIT_EVERY {
            commit(&consumer, &shared, CommitMode::Async);
            last_commit = Instant::now();
        }
        match consumer.poll(POLL) {
            Some(Ok(m)) => take(&shared, &m),
            Some(Err(e)) => warn!(error = %e, "Kafka consumer error"),
            None => {}
        }
    }
    commit(&consumer, &shared, CommitMode::Sync);
    // Leave the group now (the revoke callback runs within these polls), so the partitions move
    // to the other workers at once instead of after the session timeout.
    consumer.unsubscribe();
    let leaving = Instant::now();
    while leaving.elapsed() < LEAVE_WAIT && !shared.lock().partitions.is_empty() {
        let _ = consumer.poll(POLL);
    }
}

pub(super) fn commit(consumer: &BaseConsumer<Context>, shared: &Shared, mode: CommitMode) {
    let tpl = commits(&mut shared.lock(), None);
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, mode)
    {
        warn!(error = %e, "Kafka offset commit failed; retried with the next commit");
    }
}

/// Pauses the assignment while the worker is saturated, resumes it after.
fn flow_control(consumer: &BaseConsumer<Context>, shared: &Shared) {
    let mut state = shared.lock();
    let busy = state.stopped || state.handed_out + state.ready.len() >= shared.max_in_flight;
    if busy == state.paused {
        return;
    }
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let done = if busy {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    match done {
        Ok(()) => {
            state.paused = busy;
            debug!(paused = busy, "Kafka partitions flow control");
        }
        Err(e) => warn!(error = %e, "pausing/resuming Kafka partitions failed"),
    }
}

/// Moves held retries whose time has come to the ready queue.
fn release_due(shared: &Shared) {
    let now = now_unix_millis();
    let mut state = shared.lock();
    if !state.held.iter().any(|r| r.not_before_ms <= now) {
        return;
    }
    let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut state.held)
        .into_iter()
        .partition(|r| r.not_before_ms <= now);
    state.held = wait;
    state.ready.extend(due);
    drop(state);
    shared.ready.notify_one();
}

fn take(shared: &Shared, m: &BorrowedMessage<'_>) {
    let mut state = shared.lock();
    let key = (m.topic().to_owned(), m.partition());
    let Some(p) = state.partitions.get_mut(&key) else {
        debug!(
            topic = m.topic(),
            partition = m.partition(),
            "message of an unassigned partition dropped"
        );
        return;
    };
    p.received(m.offset());
    let received = Received {
        topic: key.0,
        partition: key.1,
        offset: m.offset(),
        generation: p.generation,
        key: m.key().map(<[u8]>::to_vec),
        body: m.payload().unwrap_or_default().to_vec(),
        attempts_before: u32::try_from(header_u64(m, ATTEMPTS_BEFORE)).unwrap_or(u32::MAX),
        not_before_ms: header_u64(m, NOT_BEFORE_MS),
        trace: TraceContext::from_values(
            header_str(m, TRACEPARENT).map(str::to_owned),
            header_str(m, TRACESTATE).map(str::to_owned),
        ),
    };
    if received.not_before_ms > now_unix_millis() {
        state.held.push(received);
        return;
    }
    state.ready.push_back(received);
    drop(state);
    shared.ready.notify_one();
}
