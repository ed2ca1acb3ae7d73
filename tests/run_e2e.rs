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

    // Hybrid (the default) and dense alone both put the right document first.
    for (query, file) in QUERIES {
        for mode in ["hybrid", "dense"] {
            let hits = search(data.path(), query, &["--mode", mode]);
            let top = hits
                .first()
                .unwrap_or_else(|| panic!("no hit for {query:?}"));
            assert!(
                top["source"].as_str().unwrap().ends_with(file),
                "{mode}: {query:?} should find {file}, got {top}"
            );
            if mode == "dense" {
                assert!(top["score"].as_f64().unwrap() > 0.3, "cosine: {top}");
            }
            assert!(n(top, "page_start") >= 1 && n(top, "page_end") >= n(top, "page_start"));
        }
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

/// `--config FILE`: a flag beats a DOCFLEET_… variable, which beats the file, which beats the
/// default; `docfleet config` shows the result with secrets hidden; a typo in the file is an
/// error naming the key.
#[test]
fn config_file_precedence_and_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docfleet.toml");
    std::fs::write(
        &file,
        "queue = \"rabbitmq\"\nlease_secs = 90\nconcurrency = 7\n\
         amqp_url = \"amqp://fleet:mq-secret@mq:5672/%2f\"\n",
    )
    .unwrap();
    let out = support::ok(
        support::docfleet(dir.path())
            .args([
                "--config",
                file.to_str().unwrap(),
                "config",
                "--concurrency",
                "9",
            ])
            .env("DOCFLEET_LEASE_SECS", "30")
            .env_remove("DOCFLEET_QUEUE")
            .env_remove("DOCFLEET_AMQP_URL")
            .env_remove("DOCFLEET_CONCURRENCY")
            .output()
            .unwrap(),
    );
    let cfg = support::json(&out);
    assert_eq!(cfg["queue"]["kind"], "rabbitmq", "from the file");
    assert_eq!(
        cfg["worker"]["lease_secs"], 30,
        "the variable beats the file"
    );
    assert_eq!(cfg["pipeline"]["concurrency"], 9, "the flag beats both");
    assert_eq!(cfg["queue"]["amqp_url"], "amqp://fleet:***@mq:5672/%2f");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("mq-secret"));

    std::fs::write(&file, "lease_sec = 90\n").unwrap();
    let out = support::docfleet(dir.path())
        .args(["--config", file.to_str().unwrap(), "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`lease_sec` is not a docfleet option"));
}
