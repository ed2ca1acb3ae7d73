//! End to end: re-runs are idempotent, changed documents replace their points, and a run killed
//! with SIGKILL loses nothing.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use support::*;

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

/// The embed precision is part of the pipeline version: another one re-embeds every document
/// once (and says so in the manifests), the same one skips them.
#[test]
fn another_embed_precision_re_embeds_once() {
    let data = tempfile::tempdir().unwrap();
    let docs = fixtures().join("docs");
    let f32_run = ["--embed-precision", "f32"];
    let (_, first) = run_json(data.path(), &f32_run, &[&docs]);
    let total = n(&first, "documents");
    assert_eq!(n(&first, "indexed"), total, "{first}");
    let (_, again) = run_json(data.path(), &f32_run, &[&docs]);
    assert_eq!(n(&again, "unchanged"), total, "{again}");

    use docfleet_models::Precision;
    let low = [Precision::Int8, Precision::Bf16]
        .into_iter()
        .find(|p| p.supported())
        .map(Precision::name);
    let Some(low) = low else {
        println!("skipped: this CPU has neither int8 (AVX512-VNNI) nor bf16 (AVX512-BF16) kernels");
        return;
    };
    let (_, lowered) = run_json(data.path(), &["--embed-precision", low], &[&docs]);
    assert_eq!(n(&lowered, "indexed"), total, "{low}: {lowered}");
    let (_, same) = run_json(data.path(), &["--embed-precision", low], &[&docs]);
    assert_eq!(n(&same, "unchanged"), total, "{low}: {same}");
    let tag = format!("+{low}-");
    let manifests: Vec<_> = walk(&data.path().join("objects/default"))
        .into_iter()
        .filter(|p| p.ends_with("manifest.json"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        manifests.iter().any(|m| m.contains(&tag)),
        "no manifest of {tag}"
    );
    // Search still finds the document, its query embedded at the same precision.
    let hits = search(
        data.path(),
        "molten rock and ash thrown out of a mountain",
        &["--embed-precision", low],
    );
    assert!(
        hits[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("volcanic-eruptions.pdf"),
        "{hits:?}"
    );
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
