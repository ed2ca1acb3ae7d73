//! End to end: the real `docfleet` binary, real PDFium, the real model, the embedded index.
//! `docfleet run` on the fixtures, then `search` and `stats`, re-runs, changed and bad documents.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The binary with a private data dir; the model and libpdfium come from the environment or
/// the cache that ./scripts/setup fills.
fn docfleet(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docfleet"));
    cmd.env("DOCFLEET_DATA_DIR", data_dir)
        .env_remove("DOCFLEET_TENANT");
    cmd
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "docfleet failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn run_json(data_dir: &Path, args: &[&str], paths: &[&Path]) -> (Output, Value) {
    let out = docfleet(data_dir)
        .arg("run")
        .arg("--json")
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    let report = json(&out);
    (out, report)
}

fn search(data_dir: &Path, query: &str, extra: &[&str]) -> Vec<Value> {
    let out = ok(docfleet(data_dir)
        .args(["search", "--json", "--top-k", "3"])
        .args(extra)
        .arg(query)
        .output()
        .unwrap());
    json(&out).as_array().unwrap().clone()
}

fn stats(data_dir: &Path) -> Vec<Value> {
    let out = ok(docfleet(data_dir)
        .args(["stats", "--json"])
        .output()
        .unwrap());
    json(&out).as_array().unwrap().clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A query for each sample document, worded unlike the document, and the file it must find.
const QUERIES: &[(&str, &str)] = &[
    (
        "how long should bread dough rise with a wild yeast starter",
        "sourdough-fermentation.pdf",
    ),
    (
        "rebalancing partitions and committing offsets when consumers join",
        "kafka-consumer-groups.pdf",
    ),
    (
        "molten rock and ash thrown out of a mountain",
        "volcanic-eruptions.pdf",
    ),
    (
        "keepers tending the lamp of a coastal tower to warn ships",
        "history-of-lighthouses.pdf",
    ),
    (
        "good first moves at the start of a chess game",
        "chess-openings.pdf",
    ),
    (
        "bees leaving the hive together with their queen",
        "honeybee-swarms.txt",
    ),
    (
        "weekly long runs to prepare for a 42 km race",
        "marathon-training.md",
    ),
    (
        "the moon's gravity causes high and low water twice a day",
        "ocean-tides.html",
    ),
];

#[test]
fn run_then_search_finds_the_right_document() {
    let data = tempfile::tempdir().unwrap();
    let docs = fixtures().join("docs");
    let expected = std::fs::read_dir(&docs).unwrap().count() as u64;
    let (out, report) = run_json(data.path(), &[], &[&docs]);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(n(&report, "indexed"), expected, "{report}");
    assert!(report["failed"].as_array().unwrap().is_empty(), "{report}");
    assert!(n(&report, "chunks") >= expected && n(&report, "points") == n(&report, "chunks"));

    for (query, file) in QUERIES {
        let hits = search(data.path(), query, &[]);
        let top = hits
            .first()
            .unwrap_or_else(|| panic!("no hit for {query:?}"));
        assert!(
            top["source"].as_str().unwrap().ends_with(file),
            "{query:?} should find {file}, got {top}"
        );
        assert!(top["score"].as_f64().unwrap() > 0.3, "{top}");
        assert!(n(top, "page_start") >= 1 && n(top, "page_end") >= n(top, "page_start"));
    }

    let s = stats(data.path());
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0]["tenant"], "default");
    assert_eq!(n(&s[0], "documents"), expected);
    assert_eq!(n(&s[0], "points"), n(&report, "points"));
    assert_eq!(n(&s[0], "chunks"), n(&report, "chunks"));

    // Artifacts: text, chunks and a manifest per document, under tenant/doc_id/sha256/.
    let manifests: Vec<PathBuf> = walk(&data.path().join("objects/default"))
        .into_iter()
        .filter(|p| p.ends_with("manifest.json"))
        .collect();
    assert_eq!(manifests.len() as u64, expected);
    for m in &manifests {
        let manifest: Value = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
        let dir = m.parent().unwrap();
        assert_eq!(
            dir.file_name().unwrap().to_str().unwrap(),
            manifest["content_sha256"]
        );
        assert!(dir.join("text.json").is_file() && dir.join("chunks.jsonl").is_file());
        let lines = std::fs::read_to_string(dir.join("chunks.jsonl"))
            .unwrap()
            .lines()
            .count() as u64;
        assert_eq!(lines, n(&manifest, "chunks"));
        assert_eq!(manifest["model"], "all-MiniLM-L6-v2");
        assert!(manifest["timings"]["embed_ms"].as_f64().unwrap() > 0.0);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn rerun_skips_unchanged_and_a_changed_document_replaces_its_points() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("docs"), docs.path());
    let note = docs.path().join("zz-note.txt");
    let long_note: String = (0..60)
        .map(|i| format!("Paragraph {i}: the lighthouse keeper logged the weather at dawn and trimmed the lamp wick.\n\n"))
        .collect();
    std::fs::write(&note, &long_note).unwrap();

    let (_, first) = run_json(data.path(), &[], &[docs.path()]);
    let total = n(&first, "documents");
    assert_eq!(n(&first, "indexed"), total, "{first}");
    let points_before = n(&stats(data.path())[0], "points");

    let (out, second) = run_json(data.path(), &[], &[docs.path()]);
    assert!(out.status.success());
    assert_eq!(
        (n(&second, "indexed"), n(&second, "unchanged")),
        (0, total),
        "{second}"
    );
    assert_eq!(
        n(&stats(data.path())[0], "points"),
        points_before,
        "a re-run adds no points"
    );

    // Shorter new content: fewer chunks, so stale points of the old version must go.
    std::fs::write(
        &note,
        "The tide tables for the harbour were revised in spring.",
    )
    .unwrap();
    let (_, third) = run_json(data.path(), &[], &[docs.path()]);
    assert_eq!(
        (n(&third, "indexed"), n(&third, "unchanged")),
        (1, total - 1),
        "{third}"
    );
    let s = stats(data.path());
    assert_eq!(n(&s[0], "documents"), total);
    assert_eq!(
        n(&s[0], "points"),
        n(&s[0], "chunks"),
        "no stale points: {s:?}"
    );
    assert!(n(&s[0], "points") < points_before);
    for hit in search(
        data.path(),
        "lighthouse keeper logged the weather and trimmed the lamp wick",
        &[],
    ) {
        assert!(
            !hit["text"].as_str().unwrap().contains("lamp wick"),
            "old version's chunk still indexed: {hit}"
        );
    }
    let hits = search(data.path(), "revised tide tables for the harbour", &[]);
    assert!(
        hits[0]["source"].as_str().unwrap().ends_with("zz-note.txt"),
        "{hits:?}"
    );
}

#[test]
fn tenants_are_isolated() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("a.md"),
        "# Glaciers\n\nGlaciers carve valleys as they move.",
    )
    .unwrap();
    ok(docfleet(data.path())
        .args(["--tenant", "acme", "run", "--quiet"])
        .arg(docs.path())
        .output()
        .unwrap());
    assert_eq!(
        search(data.path(), "glacier valleys", &["--tenant", "acme"]).len(),
        1
    );
    assert!(search(data.path(), "glacier valleys", &["--tenant", "other"]).is_empty());
    assert!(
        search(data.path(), "glacier valleys", &[]).is_empty(),
        "default tenant sees nothing"
    );
    let s = stats(data.path());
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["tenant"], "acme");
    let bad = docfleet(data.path())
        .args(["--tenant", "../x", "search", "glaciers"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// (file in fixtures/bad, text the error must contain)
const BAD: &[(&str, &str)] = &[
    ("corrupt.pdf", "corrupt or unreadable PDF"),
    ("truncated.pdf", "corrupt or unreadable PDF"),
    ("not-a-pdf.pdf", "corrupt or unreadable PDF"),
    ("empty.pdf", "empty file"),
    ("encrypted.pdf", "encrypted"),
    ("scanned.pdf", "no extractable text"),
    ("image.png", "unsupported media type image/png"),
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

#[test]
fn a_missing_libpdfium_is_a_clear_startup_error() {
    let data = tempfile::tempdir().unwrap();
    let out = docfleet(data.path())
        .env("DOCFLEET_PDFIUM_LIB", "/nonexistent/libpdfium.so")
        .args(["run"])
        .arg(fixtures().join("docs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/libpdfium.so") && stderr.contains("scripts/setup"),
        "{stderr}"
    );
}

fn manifests(data_dir: &Path) -> usize {
    let root = data_dir.join("objects");
    if !root.exists() {
        return 0;
    }
    walk(&root)
        .iter()
        .filter(|p| p.ends_with("manifest.json"))
        .count()
}

#[test]
fn kill_9_mid_run_loses_nothing_and_the_next_run_completes() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    for copy in ["a", "b", "c", "d"] {
        copy_dir(&fixtures().join("docs"), &docs.path().join(copy));
    }
    let total = 4 * std::fs::read_dir(fixtures().join("docs")).unwrap().count() as u64;

    let mut child = docfleet(data.path())
        .args(["run", "--quiet"])
        .arg(docs.path())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while manifests(data.path()) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL: no chance to flush or clean up
    child.wait().unwrap();
    let done = manifests(data.path()) as u64;
    assert!(
        done >= 1 && done < total,
        "killed mid-run: {done} of {total} done"
    );

    let (out, report) = run_json(data.path(), &[], &[docs.path()]);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        n(&report, "indexed") + n(&report, "unchanged"),
        total,
        "{report}"
    );
    assert!(
        n(&report, "unchanged") >= done,
        "finished documents are not redone: {report}"
    );
    let s = stats(data.path());
    assert_eq!(n(&s[0], "documents"), total);
    assert_eq!(
        n(&s[0], "points"),
        n(&s[0], "chunks"),
        "no duplicate or missing points: {s:?}"
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
