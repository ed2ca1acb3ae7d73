//! Message headers the adapter reads and writes, and the attempt rule.
//!
//! Attempt number of a delivery = `x-docfleet-attempt` + `x-delivery-count` + 1, where
//! - `x-docfleet-attempt` (ours) is the number of attempts that ended with a verdict before this
//!   copy was published: `retry` writes the failed attempt's number, `release` the number before
//!   it (a release is not an attempt); absent on a fresh job (0);
//! - `x-delivery-count` (set by the quorum queue on redelivery) counts deliveries of this copy that
//!   ended without a verdict: a crash, a lost connection, a consumer timeout; absent on the first.

use lapin::types::{AMQPValue, FieldTable, ShortString};

use crate::{TRACEPARENT, TRACESTATE, TraceContext};

/// Attempts already made when this copy was published (ours).
pub const ATTEMPT: &str = "x-docfleet-attempt";
/// Why the message was dead-lettered (ours).
pub const ERROR: &str = "x-docfleet-error";
/// The queue the dead-lettered message came from (ours).
pub const SOURCE_QUEUE: &str = "x-docfleet-queue";
/// Redeliveries of this copy, kept by quorum queues.
pub const DELIVERY_COUNT: &str = "x-delivery-count";

/// Longest reason kept in a header: AMQP headers are small, the job row keeps the full error.
const MAX_REASON_BYTES: usize = 4096;

fn as_u64(v: &AMQPValue) -> Option<u64> {
    match v {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortString(s) => s.as_str().parse().ok(),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
        _ => None,
    }
}

pub fn get_u64(headers: Option<&FieldTable>, key: &str) -> Option<u64> {
    headers?.inner().get(key).and_then(as_u64)
}

pub fn get_string(headers: Option<&FieldTable>, key: &str) -> Option<String> {
    match headers?.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The attempt number of a delivery (see the module documentation).
pub fn attempt(headers: Option<&FieldTable>) -> u32 {
    let before = get_u64(headers, ATTEMPT).unwrap_or(0);
    let redelivered = get_u64(headers, DELIVERY_COUNT).unwrap_or(0);
    let n = before.saturating_add(redelivered).saturating_add(1);
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Headers for a copy republished by the adapter: the original's own headers, without the ones
/// the broker writes (`x-delivery-count`, `x-death`, `x-first-death-*`, `x-last-death-*`), with
/// `x-docfleet-attempt` set to `attempts_before`.
pub(crate) fn for_copy(original: Option<&FieldTable>, attempts_before: u32) -> FieldTable {
    let mut out = FieldTable::default();
    if let Some(h) = original {
        for (k, v) in h {
            let k = k.as_str();
            let broker_owned = k == DELIVERY_COUNT
                || k == "x-death"
                || k.starts_with("x-first-death-")
                || k.starts_with("x-last-death-");
            if !broker_owned {
                out.insert(ShortString::from(k), v.clone());
            }
        }
    }
    out.insert(
        ATTEMPT.into(),
        AMQPValue::LongLongInt(i64::from(attempts_before)),
    );
    out
}

/// The trace context headers of a fresh job (copies keep them through [`for_copy`]).
pub(crate) fn with_trace(trace: &TraceContext) -> FieldTable {
    let mut out = FieldTable::default();
    for (k, v) in trace.pairs() {
        out.insert(k.into(), AMQPValue::LongString(v.into()));
    }
    out
}

/// The trace context a delivery carries.
pub(crate) fn trace(headers: Option<&FieldTable>) -> TraceContext {
    TraceContext::from_values(
        get_string(headers, TRACEPARENT),
        get_string(headers, TRACESTATE),
    )
}

/// Cuts a reason to [`MAX_REASON_BYTES`] on a character boundary.
pub(crate) fn clip_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, AMQPValue)]) -> FieldTable {
        let mut t = FieldTable::default();
        for (k, v) in pairs {
            t.insert((*k).into(), v.clone());
        }
        t
    }

    #[test]
    fn attempt_adds_our_count_and_the_brokers() {
        assert_eq!(attempt(None), 1);
        let t = table(&[(DELIVERY_COUNT, AMQPValue::LongLongInt(2))]);
        assert_eq!(attempt(Some(&t)), 3);
        let t = table(&[
            (ATTEMPT, AMQPValue::LongLongInt(4)),
            (DELIVERY_COUNT, AMQPValue::LongUInt(1)),
        ]);
        assert_eq!(attempt(Some(&t)), 6);
        let t = table(&[(ATTEMPT, AMQPValue::LongInt(-3))]);
        assert_eq!(attempt(Some(&t)), 1);
    }

    #[test]
    fn copies_drop_broker_headers_and_keep_the_rest() {
        let t = table(&[
            (DELIVERY_COUNT, AMQPValue::LongLongInt(2)),
            ("x-death", AMQPValue::Void),
            (
                "x-first-death-reason",
                AMQPValue::LongString("expired".into()),
            ),
            ("x-last-death-queue", AMQPValue::LongString("q".into())),
            ("trace-id", AMQPValue::LongString("abc".into())),
            (ATTEMPT, AMQPValue::LongLongInt(1)),
        ]);
        let c = for_copy(Some(&t), 3);
        let keys: Vec<&str> = c.inner().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["trace-id", ATTEMPT]);
        assert_eq!(attempt(Some(&c)), 4);
        assert_eq!(get_string(Some(&c), "trace-id").as_deref(), Some("abc"));
    }

    #[test]
    fn trace_context_round_trips_through_headers_and_copies() {
        let t = TraceContext {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: Some("vendor=1".into()),
        };
        let h = with_trace(&t);
        assert_eq!(trace(Some(&h)), t);
        assert_eq!(trace(Some(&for_copy(Some(&h), 1))), t);
        assert!(trace(None).is_empty());
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        assert_eq!(clip_reason("short"), "short");
        let long = "é".repeat(MAX_REASON_BYTES);
        let clipped = clip_reason(&long);
        assert!(clipped.len() <= MAX_REASON_BYTES && clipped.len() >= MAX_REASON_BYTES - 1);
    }
}
