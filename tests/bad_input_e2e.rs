//! End to end: bad documents fail one by one with clear reasons, limits hold, and extraction in
//! child processes isolates a document that crashes its extractor.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// (file in fixtures/bad, text the error must contain)
const BAD: &[(&str, &str)] = &[
    ("corrupt.pdf", "corrupt or unreadable PDF"),
    ("truncated.pdf", "corrupt or unreadable PDF"),
    ("not-a-pdf.pdf", "corrupt or unreadable PDF"),
    ("empty.pdf", "empty file"),
    ("encrypted.pdf", "encrypted"),
    ("scanned.pdf", "no extractable text"),
    ("image.png", "OCR found no text in the image/png image"),
    ("archive.zip", "unsupported media type application/zip"),
    ("binary.txt", "unsupported media type"),
];

#[test]
fn bad_documents_fail_one_by_one_with_clear_reasons_and_the_run_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let (out, report) = run_json(
        data.path(),
        &[],
        &[&fixtures().join("bad"), &fixtures().join("docs")],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a run with failures exits 1: {report}"
    );
    let failed = report["failed"].as_array().unwrap();
    for (file, reason) in BAD {
        let f = failed
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} should have failed: {report}"));
        let error = f["error"].as_str().unwrap();
        assert!(
            error.contains(reason),
            "{file}: {error:?} should say {reason:?}"
        );
        assert_eq!(f["retryable"], false, "bad input is permanent: {f}");
    }
    assert_eq!(failed.len(), BAD.len(), "only the bad files fail: {report}");
    let good = std::fs::read_dir(fixtures().join("docs")).unwrap().count() as u64;
    assert_eq!(
        n(&report, "indexed"),
        good,
        "the good documents are all indexed: {report}"
    );

    // Human output names each failed file and its cause on one line.
    let out = docfleet(data.path())
        .args(["run", "--quiet"])
        .arg(fixtures().join("bad"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (file, reason) in BAD {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("FAILED") && l.contains(file) && l.contains(reason)),
            "no FAILED line for {file}:\n{stderr}"
        );
    }
}

#[test]
fn size_and_page_limits_fail_the_document() {
    let data = tempfile::tempdir().unwrap();
    let docs = fixtures().join("docs");
    let (out, report) = run_json(data.path(), &["--max-file-bytes", "100"], &[&docs]);
    assert_eq!(out.status.code(), Some(1));
    let failed = report["failed"].as_array().unwrap();
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|f| f["error"].as_str().unwrap().contains("max_file_bytes")),
        "{report}"
    );

    let fresh = tempfile::tempdir().unwrap();
    let (out, report) = run_json(fresh.path(), &["--max-pages", "1"], &[&docs]);
    assert_eq!(out.status.code(), Some(1));
    let failed = report["failed"].as_array().unwrap();
    assert!(
        failed
            .iter()
            .any(|f| f["error"].as_str().unwrap().contains("max_pages")),
        "{report}"
    );
    assert!(
        failed
            .iter()
            .all(|f| f["file"].as_str().unwrap().ends_with(".pdf")),
        "{report}"
    );
}

/// (file, error, retryable) of each failure, sorted: runs compare regardless of finishing order.
fn failures(report: &Value) -> Vec<(String, String, bool)> {
    let mut out: Vec<_> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["error"].as_str().unwrap().to_owned(),
                f["retryable"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Every text.json under the data dir, by its path relative to it.
fn texts(data_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = walk(&data_dir.join("objects"))
        .into_iter()
        .filter(|p| p.ends_with("text.json"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(data_dir).unwrap().to_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn extraction_in_child_processes_matches_extraction_in_process() {
    let paths = [&fixtures().join("bad"), &fixtures().join("docs")];
    let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let in_process = tempfile::tempdir().unwrap();
    let (_, expected) = run_json(in_process.path(), &["--extract-processes", "0"], &paths);
    let pooled = tempfile::tempdir().unwrap();
    let (out, report) = run_json(pooled.path(), &["--extract-processes", "2"], &paths);

    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(
        failures(&report),
        failures(&expected),
        "same failures, same messages"
    );
    assert_eq!(failures(&report).len(), BAD.len(), "{report}");
    for key in ["indexed", "pages", "chunks", "points"] {
        assert_eq!(n(&report, key), n(&expected, key), "{key}: {report}");
    }
    let (a, b) = (texts(in_process.path()), texts(pooled.path()));
    assert_eq!(a.len() as u64, n(&report, "indexed"));
    assert!(a == b, "the extracted text is byte for byte the same");
}

#[test]
fn a_document_that_crashes_its_extractor_fails_alone() {
    // DOCFLEET_TEST_CRASH_MARKER (test only) makes the extractor child abort on a document that
    // contains the marker, as a hostile PDF crashes PDFium.
    let marker = "DOCFLEET-E2E-CRASH-ME";
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("docs"), docs.path());
    std::fs::write(
        docs.path().join("crash-me.txt"),
        format!("This note crashes the extractor: {marker}."),
    )
    .unwrap();
    let good = std::fs::read_dir(fixtures().join("docs")).unwrap().count() as u64;

    let out = docfleet(data.path())
        .env("DOCFLEET_TEST_CRASH_MARKER", marker)
        .args(["run", "--json", "--extract-processes", "2"])
        .arg(docs.path())
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let failed = failures(&report);
    assert_eq!(
        failed.len(),
        1,
        "only the crashing document fails: {report}"
    );
    let (file, error, retryable) = &failed[0];
    assert!(file.ends_with("crash-me.txt"), "{report}");
    assert!(
        error.contains("crashed the extractor process (killed by signal 6, SIGABRT)"),
        "{error}"
    );
    assert!(!retryable, "the same bytes would crash it again: {report}");
    assert_eq!(
        n(&report, "indexed"),
        good,
        "the other documents are all indexed: {report}"
    );
}
