//! End to end: the PII lane on a fixture of every format with planted personal data
//! (fixtures/pii, planted.json lists each file's values). With the profile's `pii = "redact"`
//! nothing of it reaches the index, the artifacts or the logs (debug level); the manifest and
//! the job row count the matches per type. A control run with PII off shows the same values do
//! reach all three when not redacted, so the absence is the lane's doing.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::fleet::{Fleet, Kind};
use support::*;

const REDACT: &str = "[pii]\nmode = \"redact\"\n\n[[pii.custom]]\nname = \"employee_id\"\npattern = \"EMP-[0-9]{6}\"\n";

fn planted() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(fixtures().join("pii/planted.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn all_planted() -> Vec<String> {
    let mut all: Vec<String> = planted().into_values().flatten().collect();
    all.sort();
    all.dedup();
    all
}

/// Every byte the run left in the data dir's objects and index, as (path, bytes).
fn stored_files(data: &Path) -> Vec<(String, Vec<u8>)> {
    ["objects", "index"]
        .iter()
        .flat_map(|d| walk(&data.join(d)))
        .filter(|p| !p.to_string_lossy().contains("_uploads"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `docfleet run fixtures/pii` for tenant `pii` with `profile`, logging at debug; returns the
/// report and the log.
fn run_with_profile(data: &Path, profile: &str) -> (Value, String) {
    let cli = |args: &[&str]| ok(docfleet(data).args(args).output().unwrap());
    cli(&["tenants", "create", "pii"]);
    let file = data.join("profile.toml");
    std::fs::write(&file, profile).unwrap();
    cli(&["tenants", "profile", "set", "pii", file.to_str().unwrap()]);
    // Only the planted documents (the folder also holds its generator and README).
    let docs = data.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for file in planted().keys() {
        std::fs::copy(fixtures().join("pii").join(file), docs.join(file)).unwrap();
    }
    let out = docfleet(data)
        .env("DOCFLEET_LOG", "debug")
        .args(["run", "--json", "--tenant", "pii"])
        .arg(&docs)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    let report = json(&out);
    let expected = planted().len() as u64;
    assert_eq!(n(&report, "indexed"), expected, "{report:#}\n{log}");
    (report, log)
}

#[test]
fn redaction_keeps_planted_pii_out_of_index_artifacts_and_logs() {
    let all = all_planted();
    assert!(all.len() >= 8, "planted values: {all:?}");

    // Control: PII off. Every planted value is in its file's extracted text, and in the index.
    let control = tempfile::tempdir().unwrap();
    run_with_profile(control.path(), "[pii]\nmode = \"off\"\n");
    let files = stored_files(control.path());
    for (file, values) in planted() {
        let text = files
            .iter()
            .filter(|(p, _)| p.ends_with("text.json"))
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .find(|t| t.contains(&format!("/{file}\"")))
            .unwrap_or_else(|| panic!("no text.json for {file}"));
        for v in values {
            assert!(
                text.contains(&v),
                "control: {v:?} not extracted from {file}"
            );
        }
    }
    let index: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.contains("/index/"))
        .collect();
    for v in &all {
        assert!(
            index.iter().any(|(_, b)| contains(b, v)),
            "control: {v:?} not in the index files"
        );
    }

    // Redacted: none of it anywhere, not in the debug log either.
    let data = tempfile::tempdir().unwrap();
    let (_, log) = run_with_profile(data.path(), REDACT);
    for (path, bytes) in stored_files(data.path()) {
        for v in &all {
            assert!(!contains(&bytes, v), "{v:?} reached {path}");
        }
    }
    for v in &all {
        assert!(!log.contains(v.as_str()), "{v:?} logged");
    }
    // The markers replaced them, and the manifests count per type.
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for path in walk(&data.path().join("objects")) {
        if path.ends_with("chunks.jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("[EMAIL]"), "{}", path.display());
        }
        if path.ends_with("manifest.json") {
            let m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(m["pii"]["mode"], "redact", "{m:#}");
            for (kind, count) in m["pii"]["counts"].as_object().unwrap() {
                *totals.entry(kind.clone()).or_default() += count.as_u64().unwrap();
            }
        }
    }
    for kind in ["email", "phone", "iban", "card", "ssn", "ip", "employee_id"] {
        assert!(
            totals.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {totals:?}"
        );
    }
    // Search finds the document by its prose, and shows the markers, not the values.
    let hits = search(data.path(), "jane doe email address", &["--tenant", "pii"]);
    assert!(!hits.is_empty());
}

#[test]
fn a_worker_records_the_pii_counts_in_the_job_row() {
    let fleet = Fleet::new(Kind::LocalSqlite, "pii-worker");
    ok(fleet
        .cmd()
        .args(["tenants", "create", "pii"])
        .output()
        .unwrap());
    let file = fleet.data_dir().join("profile.toml");
    std::fs::write(&file, REDACT).unwrap();
    ok(fleet
        .cmd()
        .args(["tenants", "profile", "set", "pii"])
        .arg(&file)
        .output()
        .unwrap());
    let out = ok(fleet
        .cmd()
        .env("DOCFLEET_TENANT", "pii")
        .args(["enqueue", "--json"])
        .arg(fixtures().join("pii/pii.txt"))
        .output()
        .unwrap());
    let id = json(&out)["jobs"][0]["job_id"].as_str().unwrap().to_owned();
    let w = fleet.run_worker_until_idle("w1");
    let job = fleet.job(&id);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["profile_version"], 1);
    let counts = &job["pii_counts"];
    for (kind, at_least) in [
        ("email", 1),
        ("phone", 2),
        ("iban", 1),
        ("card", 1),
        ("ssn", 1),
        ("ip", 2),
        ("employee_id", 1),
    ] {
        assert!(
            counts[kind].as_u64().unwrap_or(0) >= at_least,
            "{kind}: {counts:#}"
        );
    }
    let log = w.log_text();
    for v in all_planted() {
        assert!(!log.contains(v.as_str()), "{v:?} logged");
    }
}
