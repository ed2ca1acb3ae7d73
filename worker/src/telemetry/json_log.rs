//! JSON log lines for Loki and friends: one flat object per event, so a query can filter on a
//! field without unnesting. Keys: `timestamp` (RFC 3339), `level`, `target`, `span` (the
//! innermost span's name), the fields of every enclosing span (the innermost wins: `job_id`,
//! `tenant`, `source`, …), the event's own fields (`message` included), and `trace_id` /
//! `span_id` of the innermost span, the ids its OpenTelemetry span is exported with.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OtelData;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter; use with `JsonFields`, which stores each span's fields as JSON.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut out = Map::new();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        out.insert("timestamp".into(), timestamp.into());
        out.insert("level".into(), meta.level().as_str().into());
        out.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str(fields.as_str())
                {
                    out.extend(fields);
                }
                out.insert("span".into(), span.name().into());
                if let Some(otel) = ext.get::<OtelData>() {
                    ids(&mut out, otel);
                }
            }
        }
        event.record(&mut Fields(&mut out));
        writeln!(writer, "{}", Value::Object(out))
    }
}

fn ids(out: &mut Map<String, Value>, otel: &OtelData) {
    if let Some(trace_id) = otel
        .trace_id()
        .filter(|t| *t != opentelemetry::TraceId::INVALID)
    {
        out.insert("trace_id".into(), trace_id.to_string().into());
    }
    if let Some(span_id) = otel
        .span_id()
        .filter(|s| *s != opentelemetry::SpanId::INVALID)
    {
        out.insert("span_id".into(), span_id.to_string().into());
    }
}

/// An event's fields as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn lines_are_flat_with_span_fields_and_trace_ids() {
        let buffer = Buffer::default();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonLines)
                    .with_writer(buffer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            let job = tracing::info_span!("job", job_id = "j-1", tenant = "acme", attempt = 2);
            let _job = job.enter();
            let lane =
                tracing::info_span!("embed", tenant = "inner", chunks = tracing::field::Empty);
            lane.record("chunks", 12);
            let _lane = lane.enter();
            tracing::warn!(retryable = true, "attempt failed");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "attempt failed");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["span"], "embed");
        assert_eq!(line["job_id"], "j-1");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["tenant"], "inner", "the innermost span wins");
        assert_eq!(line["chunks"], 12);
        assert_eq!(line["retryable"], true);
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
        assert!(line["timestamp"].as_str().unwrap().contains('T'));
    }
}
