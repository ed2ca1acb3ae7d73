//! Traces end to end: `docfleet api` and a `docfleet worker` on RabbitMQ (and PostgreSQL), both
//! exporting OTLP/HTTP to a receiver in this test. One trace per job: the caller's trace (sent
//! as `traceparent`) or the API request's own continues through the queue into the worker's
//! `job` span, the lanes under it and the webhook delivery; a dead letter is an error status
//! and an event on the job span; the worker's JSON logs carry the trace and span ids, tenant
//! and job id.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Value, json};
use support::api::{cli, start_api};
use support::fixtures;
use support::fleet::{Fleet, Kind};
use support::receiver::{self, Request};

/// The caller's trace: the job submitted with it must stay in it.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// The API request span's name (OpenTelemetry's HTTP convention: method and route).
const SUBMIT: &str = "POST /v1/jobs";

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attrs: HashMap<String, String>,
    events: Vec<String>,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    status: i32,
}

fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(n)) => n.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(f)) => f.to_string(),
        other => format!("{other:?}"),
    }
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

fn decode(req: &Request) -> Vec<Span> {
    assert_eq!(req.path, "/v1/traces");
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/x-protobuf")
    );
    let export = ExportTraceServiceRequest::decode(req.body.as_slice()).unwrap();
    let mut out = Vec::new();
    for rs in export.resource_spans {
        let resource = attrs(&rs.resource.map(|r| r.attributes).unwrap_or_default());
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    service: service.clone(),
                    name: s.name,
                    trace_id: hex::encode(&s.trace_id),
                    span_id: hex::encode(&s.span_id),
                    parent: hex::encode(&s.parent_span_id),
                    attrs: attrs(&s.attributes),
                    events: s.events.into_iter().map(|e| e.name).collect(),
                    status: s.status.map_or(0, |st| st.code),
                });
            }
        }
    }
    out
}

/// Collects exported spans until `done` holds for them, or panics after `within`.
fn collect(
    exports: &Receiver<Request>,
    spans: &mut Vec<Span>,
    within: Duration,
    done: impl Fn(&[Span]) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(spans) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "spans missing; got: {spans:#?}");
        if let Ok(req) = exports.recv_timeout(left.min(Duration::from_millis(500))) {
            spans.extend(decode(&req));
        }
    }
}

fn one<'a>(spans: &'a [Span], what: &str, pred: impl Fn(&Span) -> bool) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| pred(s)).collect();
    assert_eq!(found.len(), 1, "{what}: {found:#?}");
    found[0]
}

fn job_span<'a>(spans: &'a [Span], job_id: &str) -> Option<&'a Span> {
    spans
        .iter()
        .find(|s| s.name == "job" && s.attrs.get("job_id").map(String::as_str) == Some(job_id))
}

#[test]
fn one_trace_per_job_from_the_api_through_rabbitmq_to_the_lanes_and_the_webhook() {
    let fleet = Fleet::new(Kind::Rabbitmq, "trace");
    cli(&fleet, &["tenants", "create", "acme"]);
    let key = cli(&fleet, &["keys", "create", "acme"]);
    let (otlp, exports) = receiver::start(0);
    let (hooks_base, hooks) = receiver::start(0);
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("DOCFLEET_LOG_FORMAT", "json"),
    ];
    let mut api_env = otel.to_vec();
    api_env.push(("DOCFLEET_API_ALLOW_FILE_SOURCES", "true"));
    let api = start_api(&fleet, "api", &api_env);

    let doc = std::fs::canonicalize(fixtures().join("docs/honeybee-swarms.txt")).unwrap();
    let corrupt = std::fs::canonicalize(fixtures().join("bad/corrupt.pdf")).unwrap();
    let hook_url = format!("{hooks_base}/hooks");
    let submit = |path: &std::path::Path, headers: &[&str]| {
        let body = json!({"source": format!("file://{}", path.display()), "options": {"callback_url": hook_url}});
        let reply = api.post("/v1/jobs", &key, &body, headers);
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.json()["job_id"].as_str().unwrap().to_owned()
    };
    let caller = format!("traceparent: 00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let traced = submit(&doc, &[&caller]);
    let plain = submit(&corrupt, &[]);

    let worker = fleet.run_worker_until_idle_with("trace-worker", &otel);
    let mut spans = Vec::new();
    collect(&exports, &mut spans, Duration::from_secs(30), |s| {
        job_span(s, &traced).is_some()
            && job_span(s, &plain).is_some()
            && s.iter().filter(|s| s.name == SUBMIT).count() >= 2
            && s.iter().any(|s| s.name == "webhook")
    });

    // The traced job: every span in the caller's trace, each under the right parent.
    let in_trace: Vec<Span> = spans
        .iter()
        .filter(|s| s.trace_id == CALLER_TRACE)
        .cloned()
        .collect();
    let request = one(&in_trace, "the API request", |s| s.name == SUBMIT);
    assert_eq!(
        request.parent, CALLER_SPAN,
        "the request continues the caller's span"
    );
    assert_eq!(request.service, "docfleet-api");
    assert_eq!(request.attrs["http.route"], "/v1/jobs");
    assert_eq!(request.attrs["http.response.status_code"], "202");
    let job = one(&in_trace, "the job", |s| s.name == "job");
    assert_eq!(job.service, "docfleet-worker");
    assert_eq!(
        job.parent, request.span_id,
        "the job is a child of the request"
    );
    assert_eq!(
        (job.attrs["tenant"].as_str(), job.attrs["job_id"].as_str()),
        ("acme", traced.as_str())
    );
    let document = one(&in_trace, "the document", |s| s.name == "document");
    assert_eq!(document.parent, job.span_id);
    let lane = |name: &str| {
        let s = one(&in_trace, name, |s| s.name == name);
        assert_eq!(
            s.parent, document.span_id,
            "{name} is a lane of the document"
        );
        s.clone()
    };
    let n = |s: &Span, key: &str| -> u64 { s.attrs[key].parse().unwrap() };
    assert!(n(&lane("extract"), "pages") >= 1);
    let chunk = lane("chunk");
    assert!(n(&chunk, "chunks") >= 1 && n(&chunk, "tokens") >= n(&chunk, "chunks"));
    assert_eq!(n(&lane("embed"), "chunks"), n(&chunk, "chunks"));
    lane("artifacts");
    assert_eq!(n(&lane("index"), "points"), n(&chunk, "chunks"));
    let webhook = one(&in_trace, "the webhook", |s| s.name == "webhook");
    assert_eq!(
        webhook.parent, job.span_id,
        "the webhook delivery is a child of the job"
    );
    assert_eq!(webhook.attrs["event"], "job.succeeded");

    // The receiver was told the trace too.
    let hook = hooks.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut hook_events = vec![hook];
    while let Ok(h) = hooks.recv_timeout(Duration::from_secs(2)) {
        hook_events.push(h);
    }
    let succeeded = hook_events
        .iter()
        .find(|h| h.text().contains("job.succeeded"))
        .expect("the job.succeeded webhook");
    let parent = succeeded
        .header("traceparent")
        .expect("a traceparent header");
    assert!(
        parent.starts_with(&format!("00-{CALLER_TRACE}-{}", webhook.span_id)),
        "{parent}"
    );

    // The job submitted without a traceparent: the API request started its trace, and the
    // dead letter is an error on the job span, with the event.
    let dead = job_span(&spans, &plain).unwrap();
    assert_ne!(dead.trace_id, CALLER_TRACE);
    let root = one(&spans, "the plain request", |s| {
        s.name == SUBMIT && s.trace_id == dead.trace_id
    });
    assert_eq!(root.parent, "", "a root span");
    assert_eq!(dead.parent, root.span_id);
    assert_eq!(dead.status, 2, "an error status: {dead:#?}");
    assert!(
        dead.events.iter().any(|e| e.contains("dead-lettering")),
        "{:?}",
        dead.events
    );

    // JSON logs: the worker's lines within the job carry its ids, tenant and trace.
    let lines: Vec<Value> = worker
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let done = lines
        .iter()
        .find(|l| l["message"] == "job succeeded" && l["job_id"] == traced.as_str())
        .unwrap_or_else(|| panic!("no 'job succeeded' line: {lines:#?}"));
    assert_eq!(done["trace_id"], CALLER_TRACE);
    assert_eq!(done["span_id"], job.span_id.as_str());
    assert_eq!(done["tenant"], "acme");
    assert_eq!(done["span"], "job");
    let failed = lines
        .iter()
        .find(|l| l["job_id"] == plain.as_str() && l["level"] == "WARN")
        .unwrap_or_else(|| panic!("no warning for the corrupt PDF: {lines:#?}"));
    assert_eq!(failed["trace_id"], dead.trace_id.as_str());
}
