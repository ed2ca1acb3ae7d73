//! End to end: the real `docfleet` binary, real PDFium, the real model, the embedded index.
//! `docfleet run` on the fixtures, then `search` and `stats`; tenants; startup errors.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::*;

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
