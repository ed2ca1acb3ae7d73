//! What the subscriber records: docfleet's own spans (info and up) always, so traces and the
//! job fields of log lines do not depend on the log level; events as `DOCFLEET_LOG` (or
//! `RUST_LOG`) says. Events written inside a span are also its span events (retries, dead
//! letters), so those are logged at warn. One global filter (not per-layer filters) keeps every
//! layer's view of the span tree the same.

use tracing::level_filters::LevelFilter;
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Crates that parse documents and log what they read (html5ever's debug events carry the
/// text): their events below info are never recorded, whatever `DOCFLEET_LOG` says, so a debug
/// log holds no document content (and no PII a profile redacts).
const DOCUMENT_READERS: &[&str] = &[
    "html5ever",
    "markup5ever",
    "xml5ever",
    "html2text",
    "quick_xml",
    "calamine",
    "mail_parser",
    "zip",
    "cfb",
    "pdfium_render",
    "tokenizers",
];

/// An event of a document reader below info.
fn document_content(meta: &Metadata<'_>) -> bool {
    *meta.level() > Level::INFO
        && DOCUMENT_READERS.iter().any(|c| {
            meta.target()
                .strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// docfleet's spans at info and up.
fn our_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("docfleet") && *meta.level() <= Level::INFO
}

pub struct Recorded {
    pub env: EnvFilter,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorded {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if document_content(meta) {
            Interest::never()
        } else if our_span(meta) {
            Interest::always()
        } else {
            Layer::<S>::register_callsite(&self.env, meta)
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, cx: Context<'_, S>) -> bool {
        !document_content(meta) && (our_span(meta) || Layer::<S>::enabled(&self.env, meta, cx))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let env = Layer::<S>::max_level_hint(&self.env)?;
        Some(env.max(LevelFilter::INFO))
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        Layer::<S>::on_new_span(&self.env, attrs, id, cx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        Layer::<S>::on_record(&self.env, id, values, cx);
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        Layer::<S>::on_enter(&self.env, id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        Layer::<S>::on_exit(&self.env, id, cx);
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        Layer::<S>::on_close(&self.env, id, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_readers_never_log_below_info() {
        let debug = tracing::debug_span!(target: "html5ever::tree_builder", "x");
        assert!(document_content(debug.metadata().unwrap()));
        let info = tracing::info_span!(target: "html5ever", "x");
        assert!(!document_content(info.metadata().unwrap()));
        let ours = tracing::debug_span!(target: "docfleet_pipeline::extract", "x");
        assert!(!document_content(ours.metadata().unwrap()));
        let other = tracing::debug_span!(target: "zipper", "x");
        assert!(!document_content(other.metadata().unwrap()));
    }

    #[test]
    fn only_docfleets_info_spans_bypass_the_log_level() {
        let cases = [
            (
                tracing::info_span!(target: "docfleet::worker_loop", "job").metadata(),
                true,
            ),
            (
                tracing::debug_span!(target: "docfleet::worker_loop", "x").metadata(),
                false,
            ),
            (tracing::info_span!(target: "lapin", "y").metadata(), false),
        ];
        for (meta, want) in cases {
            let meta = meta.unwrap();
            assert_eq!(our_span(meta), want, "{}", meta.name());
        }
    }
}
