//! The tracer provider, and whether (and how) it exports: decided by the standard OTEL_*
//! variables, read here so that a configuration docfleet cannot honour fails at start with the
//! variable named rather than silently dropping every span.

use anyhow::{Context, Result, bail};
use opentelemetry::{Key, Value};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";

/// Whether a process may export spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// When the OTEL_* variables ask for it.
    FromEnv,
    /// Never (an extractor child: its parent's spans cover its work).
    Never,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// True when an endpoint is set and neither `OTEL_SDK_DISABLED=true` nor
/// `OTEL_TRACES_EXPORTER=none` turns export off.
fn wanted(get: impl Fn(&str) -> Option<String>) -> Result<bool> {
    if get(SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    match get(TRACES_EXPORTER).as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(false),
        Some(other) => bail!("{TRACES_EXPORTER}={other}: docfleet exports with otlp (or none)"),
    }
    if get(ENDPOINT).is_none() && get(TRACES_ENDPOINT).is_none() {
        return Ok(false);
    }
    let (name, protocol) = match get(TRACES_PROTOCOL) {
        Some(p) => (TRACES_PROTOCOL, Some(p)),
        None => (PROTOCOL, get(PROTOCOL)),
    };
    match protocol.as_deref() {
        None | Some("http/protobuf") => Ok(true),
        Some(other) => bail!(
            "{name}={other}: docfleet exports OTLP over HTTP with protobuf (http/protobuf); \
             point {ENDPOINT} at the collector's OTLP/HTTP port (4318 by convention)"
        ),
    }
}

/// `service.name` from `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`, else `service`.
fn resource(service: &str) -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected.get(&Key::new("service.name")) == Some(Value::from("unknown_service"))
        || detected.get(&Key::new("service.name")).is_none();
    let builder = if unnamed {
        Resource::builder().with_service_name(service.to_owned())
    } else {
        Resource::builder()
    };
    builder
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build()
}

/// The provider, and whether it exports.
pub(super) fn provider(export: Export, service: &str) -> Result<(SdkTracerProvider, bool)> {
    let builder = SdkTracerProvider::builder().with_resource(resource(service));
    if export == Export::Never || !wanted(var)? {
        return Ok((builder.build(), false));
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .context("configuring the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
    Ok((builder.with_batch_exporter(exporter).build(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn export_needs_an_endpoint_and_can_be_switched_off() {
        assert!(!wanted(env(&[])).unwrap());
        assert!(wanted(env(&[(ENDPOINT, "http://collector:4318")])).unwrap());
        assert!(wanted(env(&[(TRACES_ENDPOINT, "http://c:4318/v1/traces")])).unwrap());
        let off = [(ENDPOINT, "http://c:4318"), (SDK_DISABLED, "TRUE")];
        assert!(!wanted(env(&off)).unwrap());
        let none = [(ENDPOINT, "http://c:4318"), (TRACES_EXPORTER, "none")];
        assert!(!wanted(env(&none)).unwrap());
    }

    #[test]
    fn protocols_other_than_http_protobuf_are_refused_by_name() {
        let ok = [(ENDPOINT, "http://c:4318"), (PROTOCOL, "http/protobuf")];
        assert!(wanted(env(&ok)).unwrap());
        let grpc = [(ENDPOINT, "http://c:4317"), (PROTOCOL, "grpc")];
        let err = wanted(env(&grpc)).unwrap_err().to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=grpc:"),
            "{err}"
        );
        let json = [
            (ENDPOINT, "http://c:4318"),
            (PROTOCOL, "http/protobuf"),
            (TRACES_PROTOCOL, "http/json"),
        ];
        let err = wanted(env(&json)).unwrap_err().to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json"),
            "{err}"
        );
        let zipkin = [(ENDPOINT, "http://c:4318"), (TRACES_EXPORTER, "zipkin")];
        assert!(wanted(env(&zipkin)).is_err());
    }
}
