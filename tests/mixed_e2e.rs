//! End to end on a mixed inbox, as a user drops it: PDFs with and without a text layer, images,
//! Office, OpenDocument, EPUB, RTF and e-mail, and files that cannot be read. Every readable
//! file is indexed and found by a phrase it contains; the unreadable ones fail with their cause;
//! the run finishes. Real PDFium, real Tesseract, the real model, the embedded index.

#![allow(clippy::unwrap_used)] // a test crate: a panic is the failure report

mod support;

use std::path::Path;

use support::*;

/// (file in fixtures/, a phrase of what it says, what the hit's page label must name, whether the
/// hit's pages were OCR'd). Dense search ranks by meaning, so the phrases say what the file is
/// about in its own words rather than a lone identifier ("escapement wheel" alone finds the
/// bicycle notes first: exact-term search is keyword search's job).
const READABLE: &[(&str, &str, Option<&str>, bool)] = &[
    (
        "docs/volcanic-eruptions.pdf",
        "magma rising through the crust",
        None,
        false,
    ),
    (
        "ocr/scanned-letter.pdf",
        "maintenance of mechanical clocks",
        None,
        true,
    ),
    (
        "ocr/mixed.pdf",
        "the tea room has a low entrance",
        None,
        true,
    ),
    (
        "ocr/receipt.png",
        "hardware store receipt for galvanised nails",
        None,
        true,
    ),
    (
        "ocr/sign.jpg",
        "trailhead warning about loose scree",
        None,
        true,
    ),
    (
        "ocr/fax.tiff",
        "fax with the quarterly inventory figures",
        None,
        true,
    ),
    (
        "ocr/note.bmp",
        "grocery list with buckwheat flour",
        None,
        true,
    ),
    (
        "ocr/poster.webp",
        "jazz festival with a saxophone quartet",
        None,
        true,
    ),
    (
        "formats/report.docx",
        "Aletsch Glacier lost 3.2 kilometres",
        None,
        false,
    ),
    (
        "formats/deck.pptx",
        "first crack at 196 degrees",
        Some("slide"),
        false,
    ),
    (
        "formats/budget.xlsx",
        "community garden budget for compost bins",
        Some("sheet Budget"),
        false,
    ),
    (
        "formats/notes.odt",
        "the penny-farthing of the 1870s",
        None,
        false,
    ),
    (
        "formats/talk.odp",
        "arctic terns fly from pole to pole",
        None,
        false,
    ),
    (
        "formats/book.epub",
        "the phases of the moon, waxing gibbous",
        None,
        false,
    ),
    (
        "formats/memo.rtf",
        "desalination with reverse osmosis membranes",
        None,
        false,
    ),
    (
        "formats/message.eml",
        "water orchids once a week",
        None,
        false,
    ),
];

/// (file in fixtures/, words its failure must name)
const UNREADABLE: &[(&str, &str)] = &[
    ("bad/encrypted.pdf", "encrypted"),
    ("bad/corrupt.pdf", "corrupt"),
    ("ocr/bad/pixel-bomb.png", "ocr_max_pixels"),
    ("formats/bad/zip-bomb.docx", "limit"),
];

fn inbox(dir: &Path) {
    for (rel, ..) in READABLE {
        copy(rel, dir);
    }
    for (rel, _) in UNREADABLE {
        copy(rel, dir);
    }
}

fn copy(rel: &str, dir: &Path) {
    let from = fixtures().join(rel);
    let name = from.file_name().unwrap();
    std::fs::copy(&from, dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap()
}

#[test]
fn every_readable_file_in_a_mixed_inbox_is_indexed_and_found() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    inbox(docs.path());
    let (out, report) = run_json(data.path(), &[], &[docs.path()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures exit 1\n{report}\n{stderr}"
    );
    assert_eq!(
        n(&report, "indexed") as usize,
        READABLE.len(),
        "{report}\n{stderr}"
    );

    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), UNREADABLE.len(), "{report}");
    for (rel, cause) in UNREADABLE {
        let f = failed
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(file_name(rel)))
            .unwrap_or_else(|| panic!("{rel} not among the failures: {report}"));
        let error = f["error"].as_str().unwrap().to_lowercase();
        assert!(error.contains(cause), "{rel}: {error}");
    }

    for &(rel, phrase, label, ocr) in READABLE {
        let hits = search(data.path(), phrase, &[]);
        let top = hits
            .first()
            .unwrap_or_else(|| panic!("no hit for {phrase:?}"));
        assert!(
            top["source"].as_str().unwrap().ends_with(file_name(rel)),
            "{phrase:?} should find {rel} first, got {top:#}"
        );
        if let Some(label) = label {
            let shown = top["page_label"].as_str().unwrap_or_default();
            assert!(shown.contains(label), "{rel}: {label:?} in {top:#}");
        }
        assert_eq!(
            top.get("ocr_confidence").is_some(),
            ocr,
            "{rel}: OCR noted in the payload only for recognised pages: {top:#}"
        );
    }

    // A second run finds everything unchanged: nothing is OCR'd or parsed again.
    let (out, again) = run_json(data.path(), &[], &[docs.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(n(&again, "unchanged") as usize, READABLE.len(), "{again}");
    assert_eq!(n(&again, "indexed"), 0, "{again}");
}

#[test]
fn a_missing_ocr_language_is_a_clear_error_at_start() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(docs.path().join("a.txt"), "text needs no OCR").unwrap();
    let out = docfleet(data.path())
        .args(["run", "--ocr-languages", "eng+zzz"])
        .arg(docs.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("zzz.traineddata") && stderr.contains("tesseract-ocr-zzz"),
        "{stderr}"
    );
    // With OCR off the same run needs no Tesseract language at all.
    ok(docfleet(data.path())
        .args([
            "run",
            "--quiet",
            "--ocr",
            "off",
            "--ocr-languages",
            "eng+zzz",
        ])
        .arg(docs.path())
        .output()
        .unwrap());
}
