//! Documents made for a test: many small distinct notes, or one slow PDF.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `n` small distinct text documents (one or two chunks each) in `dir`.
pub fn small_docs(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let topics = [
        "harbour cranes",
        "alpine glaciers",
        "violin varnish",
        "desert beetles",
        "tram networks",
        "moss gardens",
        "paper mills",
        "coral spawning",
        "bell foundries",
        "salt marshes",
    ];
    (0..n)
        .map(|i| {
            let topic = topics[i % topics.len()];
            let text = format!(
                "Field notes number {i} on {topic}.\n\nObservation {i}: the {topic} studied in \
                 season {} behaved as recorded in log entry {}. The team measured, compared and \
                 wrote down what they saw, and note {i} closes with a summary of {topic}.\n",
                i % 4,
                i * 7 + 3
            );
            let ext = if i % 2 == 0 { "txt" } else { "md" };
            let path = dir.join(format!("note-{i:03}.{ext}"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// A text PDF long enough (several seconds of work) that a test can act while it is being
/// processed.
pub fn slow_pdf(dir: &Path, pages: usize) -> PathBuf {
    let out = dir.join("slow");
    let st = Command::new("python3")
        .arg(super::fixtures().join("generate.py"))
        .arg("--bench-corpus")
        .arg(&out)
        .args(["--docs", "1", "--pages", &pages.to_string()])
        .status()
        .expect("python3");
    assert!(st.success());
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pdf"))
        .expect("a generated PDF")
}
