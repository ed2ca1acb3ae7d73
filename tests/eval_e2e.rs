//! `docfleet eval` on a tiny BEIR dataset (fixtures/beir-mini: 12 documents on distinct topics,
//! 6 judged queries and one unjudged): every mode reports its figures, every relevant document
//! is in the top 100, and a second run on the same data dir indexes nothing again.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use serde_json::Value;
use support::{docfleet, fixtures, json, ok};

const DOCUMENTS: u64 = 12;
const QUERIES: u64 = 6;

fn eval(data_dir: &std::path::Path, extra: &[&str]) -> Value {
    let out = ok(docfleet(data_dir)
        .arg("eval")
        .arg(fixtures().join("beir-mini"))
        .arg("--json")
        .args(extra)
        .output()
        .unwrap());
    json(&out)
}

fn figure(mode: &Value, key: &str) -> f64 {
    mode[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {mode}"))
}

#[test]
fn eval_reports_every_mode_and_reuses_the_index() {
    let data = tempfile::tempdir().unwrap();
    let first = eval(data.path(), &[]);
    assert_eq!(first["dataset"], "beir-mini", "{first}");
    assert_eq!(first["documents"].as_u64(), Some(DOCUMENTS), "{first}");
    assert_eq!(first["queries"].as_u64(), Some(QUERIES), "{first}");
    let indexing = &first["indexing"];
    assert_eq!(indexing["indexed"].as_u64(), Some(DOCUMENTS), "{first}");
    assert_eq!(indexing["unchanged"].as_u64(), Some(0), "{first}");
    assert_eq!(indexing["failed"].as_u64(), Some(0), "{first}");

    let modes = first["modes"].as_array().unwrap();
    let names: Vec<&str> = modes.iter().map(|m| m["mode"].as_str().unwrap()).collect();
    assert_eq!(names, ["dense", "keyword", "hybrid"], "{first}");
    for m in modes {
        for key in ["ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10"] {
            let v = figure(m, key);
            assert!((0.0..=1.0).contains(&v), "{key} = {v} out of [0, 1]: {m}");
        }
        // 12 documents: every relevant one is among the top 100 chunks' documents.
        assert_eq!(figure(m, "recall_at_100"), 1.0, "{m}");
        assert!(figure(m, "queries_per_sec") > 0.0, "{m}");
    }

    // Same data dir: nothing is indexed again; one mode and a query cap are honoured.
    let second = eval(data.path(), &["--modes", "dense", "--max-queries", "2"]);
    let indexing = &second["indexing"];
    assert_eq!(indexing["indexed"].as_u64(), Some(0), "{second}");
    assert_eq!(indexing["unchanged"].as_u64(), Some(DOCUMENTS), "{second}");
    assert_eq!(second["queries"].as_u64(), Some(2), "{second}");
    assert_eq!(second["modes"].as_array().unwrap().len(), 1, "{second}");
}

#[test]
fn eval_of_a_folder_without_qrels_fails_clearly() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in ["corpus.jsonl", "queries.jsonl"] {
        std::fs::copy(fixtures().join("beir-mini").join(f), dir.path().join(f)).unwrap();
    }
    let out = docfleet(data.path())
        .arg("eval")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("test.tsv is missing"), "{stderr}");
}
