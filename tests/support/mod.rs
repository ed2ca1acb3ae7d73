//! Helpers shared by the end-to-end tests: run the real `docfleet` binary with a private data
//! dir and read its JSON output.

#![allow(dead_code)] // each test crate uses a different subset
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The `file://` URI of a document of fixtures/docs.
pub fn fixture_uri(name: &str) -> String {
    let path = std::fs::canonicalize(fixtures().join("docs").join(name)).unwrap();
    format!("file://{}", path.display())
}

/// The binary with a private data dir; the model and libpdfium come from the environment or
/// the cache that ./scripts/setup fills.
pub fn docfleet(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docfleet"));
    cmd.env("DOCFLEET_DATA_DIR", data_dir)
        .env_remove("DOCFLEET_TENANT");
    cmd
}

pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "docfleet failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a tool the tests drive (psql, rabbitmqctl) and returns its stdout; a failure fails the
/// test, naming `what`.
pub fn command_stdout(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (is it installed? run ./scripts/services)"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a future to completion on a runtime of its own (the tests themselves are not async).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn run_json(data_dir: &Path, args: &[&str], paths: &[&Path]) -> (Output, Value) {
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

/// `docfleet search --json <flags> <query>`: its JSON output.
pub fn search_json(data_dir: &Path, query: &str, flags: &[&str]) -> Value {
    let out = ok(docfleet(data_dir)
        .args(["search", "--json"])
        .args(flags)
        .arg(query)
        .output()
        .unwrap());
    json(&out)
}

/// The top 3 results.
pub fn search(data_dir: &Path, query: &str, extra: &[&str]) -> Vec<Value> {
    let flags = [&["--top-k", "3"], extra].concat();
    search_json(data_dir, query, &flags)
        .as_array()
        .unwrap()
        .clone()
}

pub fn stats(data_dir: &Path) -> Vec<Value> {
    let out = ok(docfleet(data_dir)
        .args(["stats", "--json"])
        .output()
        .unwrap());
    json(&out).as_array().unwrap().clone()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

pub fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
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

pub fn manifests(data_dir: &Path) -> usize {
    let root = data_dir.join("objects");
    if !root.exists() {
        return 0;
    }
    walk(&root)
        .iter()
        .filter(|p| p.ends_with("manifest.json"))
        .count()
}
pub mod api;
pub mod api_fleet;
pub mod aws;
pub mod corpus;
pub mod fleet;
pub mod receiver;
