//! Logs and traces. Logs go to stderr as text or JSON (one object per line, with the trace and
//! span ids, tenant and job id of the span they were written in: what Loki indexes). Every span
//! is also an OpenTelemetry span, exported over OTLP/HTTP (protobuf) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the standard
//! `OTEL_*` variables are honoured (service name, resource attributes, headers, timeout,
//! sampler, batch processor). Without an endpoint nothing is exported, but spans still get ids,
//! so trace context still flows from the API through the queue to the worker and its logs.

mod export;
mod filter;
mod json_log;

use std::io::IsTerminal;

use anyhow::Result;
use docfleet_queue::{TRACEPARENT, TRACESTATE, TraceContext};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config_file;

pub use export::Export;

/// Flushes the spans still buffered when dropped (at exit).
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.exporting
            && let Err(e) = self.provider.shutdown()
        {
            eprintln!("warning: flushing traces at exit failed: {e}");
        }
    }
}

/// Installs the global subscriber: the log format (`text` or `json`) on stderr, filtered by
/// `DOCFLEET_LOG` (or `RUST_LOG`; default `warn`), and the OpenTelemetry layer. `export`
/// says whether this process may export (an extractor child never does: its parent's spans
/// cover it); `service` is the default `service.name`.
pub fn init(format: &str, export: Export, service: &str) -> Result<Telemetry> {
    let filter = EnvFilter::try_from_env(config_file::LOG_ENV)
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let (provider, exporting) = export::provider(export, service)?;
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("docfleet"));
    let registry = tracing_subscriber::registry()
        .with(filter::Recorded { env: filter })
        .with(otel);
    if format == "json" {
        let fmt = tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(json_log::JsonLines)
            .with_writer(std::io::stderr);
        registry.with(fmt).try_init()?;
    } else {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal());
        registry.with(fmt).try_init()?;
    }
    Ok(Telemetry {
        provider,
        exporting,
    })
}

/// The current span's context as W3C headers, to send along with a job or a request.
pub fn current_context() -> TraceContext {
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.0
}

/// Makes `span` a child of the span `trace` names (a no-op for an empty context). Call it before
/// the span is first entered.
pub fn set_parent(span: &tracing::Span, trace: &TraceContext) {
    if trace.is_empty() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&Carrier(trace.clone()));
    // Fails only once the span has started; callers set the parent right after creating it.
    let _ = span.set_parent(cx);
}

/// `traceparent` / `tracestate` of an HTTP request's headers.
pub fn from_headers(headers: &axum::http::HeaderMap) -> TraceContext {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    TraceContext::from_values(value(TRACEPARENT), value(TRACESTATE))
}

/// The propagator's view of a [`TraceContext`].
#[derive(Default)]
struct Carrier(TraceContext);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.0.traceparent = Some(value),
            TRACESTATE => self.0.tracestate = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.0.traceparent.as_deref(),
            TRACESTATE => self.0.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_set_as_parent_is_the_one_injected_below_it() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let incoming = TraceContext {
                traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
                tracestate: None,
            };
            let span = tracing::info_span!("job");
            set_parent(&span, &incoming);
            let out = span.in_scope(current_context);
            let parent = out.traceparent.expect("a traceparent is injected");
            assert!(parent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert!(
                !parent.contains("00f067aa0ba902b7"),
                "the job span's own id"
            );
            // No incoming context: a fresh trace, still injected.
            let root = tracing::info_span!("request");
            assert!(root.in_scope(current_context).traceparent.is_some());
        });
    }
}
