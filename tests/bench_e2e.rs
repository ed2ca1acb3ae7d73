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
fn bench_embed_prints_throughput_per_precision_and_batch_size() {
    let out = stdout_of(docfleet().args([
        "bench",
        "embed",
        "--texts",
        "6",
        "--words",
        "20",
        "--batch-sizes",
        "2,4",
        "--precisions",
        "f32,auto",
    ]));
    assert!(out.contains("texts/s") && out.contains("tokens/s"), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 8 && ["f32", "bf16", "int8"].contains(&w[0]))
        .collect();
    assert_eq!(
        rows.len(),
        4,
        "one row per precision and batch size:\n{out}"
    );
    assert_eq!(
        (rows[0][0], rows[0][1], rows[1][1]),
        ("f32", "2", "4"),
        "{out}"
    );
    // The second precision is auto, resolved: its speed-up is over the f32 rows of this run.
    assert_eq!(rows[0][7], "1.00", "{out}");
    assert!(rows[2][7].parse::<f64>().is_ok(), "{out}");
    assert!(out.contains("peak RSS"), "{out}");
}

#[test]
fn bench_embed_refuses_a_precision_the_cpu_lacks_or_names_it() {
    // On a CPU with both low precisions this runs; on one without, it says which is missing.
    let out = docfleet()
        .args([
            "bench",
            "embed",
            "--texts",
            "2",
            "--words",
            "5",
            "--batch-sizes",
            "2",
        ])
        .args(["--precisions", "int8"])
        .output()
        .expect("docfleet runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert!(text.contains(" int8 "), "{text}");
    } else {
        assert!(text.contains("AVX512-VNNI"), "{text}");
    }
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
