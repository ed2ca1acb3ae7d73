//! End to end: hybrid, keyword and dense search through `docfleet search` on the embedded
//! index; exact terms found by keyword and hybrid; filters (media type, source folder, pages,
//! tags) and facet counts; tags re-index a document when they change.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// Searches with extra flags and returns `{results, facets}` (or the results alone).
fn search_with(data: &Path, query: &str, flags: &[&str]) -> Value {
    search_json(data, query, &[&["--top-k", "5"], flags].concat())
}

fn sources(results: &Value) -> Vec<String> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            h["source"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The sample documents, plus two on pumps: only one names the part XK-4471-B.
fn corpus(dir: &Path) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for e in std::fs::read_dir(fixtures().join("docs")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), docs.join(e.file_name())).unwrap();
    }
    let pumps = dir.join("pumps");
    std::fs::create_dir_all(&pumps).unwrap();
    std::fs::write(
        pumps.join("maintenance-log.md"),
        "# Pump maintenance log\n\nOn Tuesday the crew replaced gasket XK-4471-B on the feed \
         pump after it started to leak at the flange. The pump was run for an hour afterwards \
         and no further leaks were found.\n",
    )
    .unwrap();
    std::fs::write(
        pumps.join("pump-care.md"),
        "# Caring for centrifugal pumps\n\nGaskets and seals wear out: inspect them every \
         month, replace a gasket as soon as the pump leaks at a flange, and keep spare seals \
         in the store room.\n",
    )
    .unwrap();
}

#[test]
fn hybrid_finds_exact_terms_and_filters_and_facets_hold() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let (out, report) = run_json(
        data.path(),
        &["--tag", "team=field"],
        &[&dir.path().join("pumps")],
    );
    assert!(out.status.success(), "{report}");
    let (out, report) = run_json(
        data.path(),
        &["--tag", "team=library"],
        &[&dir.path().join("docs")],
    );
    assert!(out.status.success(), "{report}");

    // An identifier that appears in one document: keyword and hybrid put it first.
    for mode in ["keyword", "hybrid"] {
        let hits = search_with(data.path(), "XK-4471-B", &["--mode", mode]);
        assert_eq!(sources(&hits)[0], "maintenance-log.md", "{mode}: {hits:#}");
        let snippet = hits[0]["snippet"].as_str().unwrap();
        assert!(
            snippet.contains("**XK-4471-B**") || snippet.contains("**xk-4471-b**"),
            "{snippet}"
        );
    }
    // Hybrid is the default, and still answers questions by meaning.
    let hits = search_with(data.path(), "how do volcanoes erupt", &[]);
    assert_eq!(sources(&hits)[0], "volcanic-eruptions.pdf", "{hits:#}");
    let dense = search_with(data.path(), "how do volcanoes erupt", &["--mode", "dense"]);
    assert_eq!(sources(&dense)[0], "volcanic-eruptions.pdf", "{dense:#}");

    // Filters: media type, folder, pages, tags.
    let pdfs = search_with(data.path(), "history", &["--media-type", "application/pdf"]);
    assert!(!pdfs.as_array().unwrap().is_empty());
    assert!(
        sources(&pdfs).iter().all(|s| s.ends_with(".pdf")),
        "{pdfs:#}"
    );
    let folder = format!("file://{}/", dir.path().join("pumps").display());
    let in_folder = search_with(data.path(), "gasket", &["--source-prefix", &folder]);
    assert!(
        sources(&in_folder)
            .iter()
            .all(|s| s.starts_with("maintenance") || s.starts_with("pump"))
    );
    let page_two = search_with(
        data.path(),
        "starter dough",
        &["--pages", "2-3", "--mode", "keyword"],
    );
    for h in page_two.as_array().unwrap() {
        assert!(n(h, "page_end") >= 2 && n(h, "page_start") <= 3, "{h:#}");
    }
    let field = search_with(data.path(), "gasket", &["--tag", "team=field"]);
    assert_eq!(sources(&field).len(), 2, "{field:#}");
    assert!(
        field
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["tags"]["team"] == "field")
    );
    let nothing = search_with(data.path(), "gasket", &["--tag", "team=nobody"]);
    assert!(nothing.as_array().unwrap().is_empty());

    // Facets count documents in scope.
    let faceted = search_with(data.path(), "anything", &["--facets"]);
    let facets = &faceted["facets"];
    let count = |list: &Value, value: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"] == value)
            .map_or(0, |c| n(c, "count"))
    };
    assert_eq!(
        count(&facets["media_type"], "application/pdf"),
        5,
        "{facets:#}"
    );
    assert_eq!(
        count(&facets["media_type"], "text/markdown"),
        3,
        "{facets:#}"
    );
    assert_eq!(count(&facets["tags"], "team=field"), 2, "{facets:#}");
    assert_eq!(count(&facets["tags"], "team=library"), 8, "{facets:#}");

    // New tags re-index the documents (they are stored with every chunk); the same tags do not.
    let (_, again) = run_json(
        data.path(),
        &["--tag", "team=field"],
        &[&dir.path().join("pumps")],
    );
    assert_eq!(n(&again, "unchanged"), 2, "{again}");
    let (_, retagged) = run_json(
        data.path(),
        &["--tag", "team=ops"],
        &[&dir.path().join("pumps")],
    );
    assert_eq!(n(&retagged, "indexed"), 2, "{retagged}");
    let ops = search_with(data.path(), "gasket", &["--tag", "team=ops"]);
    assert_eq!(sources(&ops).len(), 2, "{ops:#}");
    assert!(
        search_with(data.path(), "gasket", &["--tag", "team=field"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_search_options_are_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    for (flags, want) in [
        (vec!["--pages", "5-2"], "pages"),
        (
            vec!["--source-prefix", "s3://bucket/no-slash"],
            "source_prefix",
        ),
        (vec!["--tag", "Bad Key=x"], "invalid tag"),
    ] {
        let out = docfleet(data.path())
            .args(["search", "x"])
            .args(&flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(want),
            "{flags:?}: {stderr}"
        );
    }
}
