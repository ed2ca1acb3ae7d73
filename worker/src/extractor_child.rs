//! `docfleet extract-worker`: the extractor child process that wiring/extractor.rs starts,
//! one document at a time over stdin/stdout, so that a crash or hang fails only that document.

use anyhow::{Context, Result};
use docfleet_pipeline::extract::{DocumentExtractor, ExtractOptions, serve_extraction};

use crate::settings::CommonOpts;

/// TEST ONLY, and only in debug builds: when this variable is set (non-empty), an extractor
/// child aborts (SIGABRT) on any document whose bytes contain its value. It lets the end-to-end
/// tests crash a real child the way a hostile PDF crashes PDFium. Behind `debug_assertions`
/// rather than a cargo feature: `cargo test` builds and runs the debug binary, so the tests get
/// it with no flag to remember, and no release build (the images) can have it.
#[cfg(debug_assertions)]
const TEST_CRASH_MARKER_VAR: &str = "DOCFLEET_TEST_CRASH_MARKER";

#[cfg(debug_assertions)]
fn test_crash_marker() -> Option<String> {
    std::env::var(TEST_CRASH_MARKER_VAR)
        .ok()
        .filter(|m| !m.is_empty())
}

/// Release builds read no test variable.
#[cfg(not(debug_assertions))]
fn test_crash_marker() -> Option<String> {
    None
}

/// `docfleet extract-worker`: serves the parent's extraction requests on stdin/stdout until
/// stdin closes. stdout carries the protocol, so logs go to stderr only.
pub fn serve_extract_worker(common: &CommonOpts, max_file_bytes: u64) -> Result<()> {
    let extractor = DocumentExtractor::new(Some(&common.pdfium_lib()), ExtractOptions::default())?
        .with_ocr_install(common.ocr_install());
    let crash_marker = test_crash_marker();
    let extract =
        |bytes: &[u8], media_type, options: &ExtractOptions, on_page: &mut dyn FnMut()| {
            if let Some(marker) = &crash_marker
                && bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
            {
                std::process::abort();
            }
            extractor.extract_with(bytes, media_type, options, on_page)
        };
    serve_extraction(
        &extract,
        max_file_bytes,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )
    .context("extractor protocol")
}
