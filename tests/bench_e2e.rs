//! The benchmark commands run and print their figures (speed itself is never asserted in tests;
//! see README "Performance" for measured figures).

use std::path::Path;
use std::process::Command;

fn docfleet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_docfleet"))
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("docfleet runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bench_embed_prints_throughput_per_batch_size() {
    let out = stdout_of(docfleet().args([
        "bench",
        "embed",
        "--texts",
        "6",
        "--words",
        "20",
        "--batch-sizes",
        "2,4",
    ]));
    assert!(out.contains("texts/s") && out.contains("tokens/s"), "{out}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(['2', '4']))
        .collect();
    assert_eq!(rows.len(), 2, "one row per batch size:\n{out}");
    assert!(out.contains("peak RSS"), "{out}");
}

#[test]
fn bench_run_prints_pipeline_rates_and_peak_rss() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/docs");
    let out = stdout_of(docfleet().args(["bench", "run"]).arg(&docs));
    for figure in [
        "docs/s",
        "pages/s",
        "chunks/s",
        "embed lane busy",
        "peak RSS",
    ] {
        assert!(out.contains(figure), "{figure} missing:\n{out}");
    }
    assert!(out.contains("(8 indexed, 0 failed)"), "{out}");
}
