//! Tests of the whole lane against the committed fixtures (see fixtures/README.md).
//!
//! PDFium binds once per process, so every test shares [`pdf_extractor`].

use std::path::PathBuf;
use std::sync::LazyLock;

use super::*;

pub(super) fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(rel)
}

pub(super) fn fixture(rel: &str) -> Vec<u8> {
    let path = fixture_path(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (regenerate with python3 fixtures/generate.py)",
            path.display()
        )
    })
}

fn pdfium_lib() -> PathBuf {
    std::env::var_os("DOCFLEET_PDFIUM_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| docfleet_models::cache_dir().join("pdfium/libpdfium.so"))
}

static PDF: LazyLock<PdfExtractor> = LazyLock::new(|| {
    let lib = pdfium_lib();
    assert!(
        lib.is_file(),
        "libpdfium not found at {}: run ./scripts/setup (or set DOCFLEET_PDFIUM_LIB)",
        lib.display()
    );
    PdfExtractor::new(&lib).unwrap_or_else(|e| panic!("{e}"))
});

pub(super) fn pdf_extractor() -> &'static PdfExtractor {
    &PDF
}

fn extractor() -> DocumentExtractor {
    DocumentExtractor::with_pdf(pdf_extractor().clone(), ExtractOptions::default())
}

/// Sniffs and extracts a fixture the way the pipeline does.
fn run(rel: &str) -> Result<Vec<Page>> {
    let bytes = fixture(rel);
    let media_type = sniff(&bytes, Some(rel))?;
    extractor().extract(&bytes, media_type)
}

const DOCS: &[(&str, MediaType, usize)] = &[
    ("sourdough-fermentation.pdf", MediaType::Pdf, 3),
    ("kafka-consumer-groups.pdf", MediaType::Pdf, 3),
    ("volcanic-eruptions.pdf", MediaType::Pdf, 2),
    ("history-of-lighthouses.pdf", MediaType::Pdf, 3),
    ("chess-openings.pdf", MediaType::Pdf, 2),
    ("honeybee-swarms.txt", MediaType::PlainText, 1),
    ("marathon-training.md", MediaType::Markdown, 1),
    ("ocean-tides.html", MediaType::Html, 1),
];

#[test]
fn every_doc_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_path("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = DOCS.iter().map(|(name, ..)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn sniffs_doc_fixtures() {
    for &(name, media_type, _) in DOCS {
        let bytes = fixture(&format!("docs/{name}"));
        assert_eq!(sniff(&bytes, Some(name)).unwrap(), media_type, "{name}");
        // Content wins over a lying or missing name.
        let renamed = sniff(&bytes, Some("renamed.dat")).unwrap();
        assert_eq!(
            renamed == MediaType::Pdf,
            media_type == MediaType::Pdf,
            "{name}"
        );
    }
    let html = fixture("docs/ocean-tides.html");
    assert_eq!(sniff(&html, Some("tides.txt")).unwrap(), MediaType::Html);
    assert_eq!(sniff(&html, None).unwrap(), MediaType::Html);
    let pdf = fixture("docs/chess-openings.pdf");
    assert_eq!(sniff(&pdf, Some("chess.txt")).unwrap(), MediaType::Pdf);
}

#[test]
fn sniffs_bad_fixtures() {
    let unsupported = |rel: &str| match sniff(&fixture(rel), Some(rel)) {
        Err(Error::UnsupportedMediaType { media_type }) => media_type,
        other => panic!("{rel}: {other:?}"),
    };
    assert_eq!(
        sniff(&fixture("bad/image.png"), None).unwrap(),
        MediaType::Image(docfleet_ocr::ImageFormat::Png),
        "images are documents (OCR)"
    );
    assert_eq!(unsupported("bad/archive.zip"), "application/zip");
    assert_eq!(unsupported("bad/binary.txt"), "application/octet-stream");
    assert!(matches!(
        sniff(&fixture("bad/empty.pdf"), Some("empty.pdf")),
        Err(Error::EmptyFile)
    ));
    let err = sniff(&fixture("bad/not-a-pdf.pdf"), Some("not-a-pdf.pdf")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt or unreadable PDF: not a PDF: missing %PDF header"
    );
    // The same bytes under a text name are just text.
    assert_eq!(
        sniff(&fixture("bad/not-a-pdf.pdf"), Some("note.txt")).unwrap(),
        MediaType::PlainText
    );
    for rel in [
        "bad/corrupt.pdf",
        "bad/truncated.pdf",
        "bad/encrypted.pdf",
        "bad/scanned.pdf",
    ] {
        assert_eq!(
            sniff(&fixture(rel), Some(rel)).unwrap(),
            MediaType::Pdf,
            "{rel}"
        );
    }
}

#[test]
fn every_bad_fixture_gives_its_error() {
    type IsExpected = fn(&Error) -> bool;
    let cases: &[(&str, IsExpected)] = &[
        ("corrupt.pdf", |e| matches!(e, Error::CorruptPdf(_))),
        ("truncated.pdf", |e| matches!(e, Error::CorruptPdf(_))),
        ("not-a-pdf.pdf", |e| matches!(e, Error::CorruptPdf(_))),
        ("empty.pdf", |e| matches!(e, Error::EmptyFile)),
        ("encrypted.pdf", |e| matches!(e, Error::Encrypted)),
        // A drawing without letters: OCR runs and finds none.
        (
            "scanned.pdf",
            |e| matches!(e, Error::NoText(m) if m.contains("1 pages") && m.contains("OCR")),
        ),
        (
            "image.png",
            |e| matches!(e, Error::NoText(m) if m.contains("OCR found no text")),
        ),
        ("archive.zip", |e| {
            matches!(e, Error::UnsupportedMediaType { .. })
        }),
        ("binary.txt", |e| {
            matches!(e, Error::UnsupportedMediaType { .. })
        }),
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_path("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|(name, _)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every file in fixtures/bad has a case");

    for (name, expected) in cases {
        let err = match run(&format!("bad/{name}")) {
            Ok(pages) => panic!("{name}: extracted {pages:?}"),
            Err(e) => e,
        };
        let msg = err.to_string();
        eprintln!("{name}: {msg}");
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        assert!(!err.is_retryable(), "{name}: a bad document is permanent");
        assert!(
            msg.len() > 10 && !msg.contains("Pdfium") && !msg.contains("Error("),
            "{name}: {msg}"
        );
    }
    // The PDF path on its own (no sniffing) also refuses what is not a PDF.
    for name in ["not-a-pdf.pdf", "image.png", "binary.txt"] {
        let err = extractor()
            .extract(&fixture(&format!("bad/{name}")), MediaType::Pdf)
            .unwrap_err();
        assert!(matches!(err, Error::CorruptPdf(_)), "{name}: {err:?}");
    }
}

#[test]
fn docs_have_numbered_pages_with_text() {
    for &(name, media_type, page_count) in DOCS {
        let pages = run(&format!("docs/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pages.len(), page_count, "{name}");
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(page.number as usize, i + 1, "{name}");
            assert!(
                page.text.len() > 200,
                "{name} page {}: {:?}",
                page.number,
                page.text
            );
            assert!(!page.text.contains('\r'), "{name}");
            assert!(
                page.text.lines().all(|l| l == l.trim_end()),
                "{name}: trailing spaces"
            );
            // Every fixture page has several paragraphs, and they survive extraction.
            if media_type != MediaType::PlainText {
                assert!(
                    page.text.contains("\n\n"),
                    "{name} page {}: no paragraphs",
                    page.number
                );
            }
        }
    }
    let sourdough = run("docs/sourdough-fermentation.pdf").unwrap();
    assert!(
        sourdough[0]
            .text
            .starts_with("Sourdough bread is leavened by a starter")
    );
    assert!(sourdough[1].text.contains("Bulk fermentation"));
    assert!(sourdough[2].text.contains("oven spring"));
}

#[test]
fn html_text_has_no_markup_script_or_style() {
    let pages = run("docs/ocean-tides.html").unwrap();
    let text = &pages[0].text;
    assert!(text.contains("Ocean tides and the Moon"), "{text}");
    assert!(text.contains("Moon's gravity"), "entities decoded: {text}");
    assert!(
        text.contains("electricity & run"),
        "entities decoded: {text}"
    );
    assert!(text.contains("Bay of Fundy"), "{text}");
    for banned in [
        "<",
        ">",
        "&amp;",
        "&nbsp;",
        "&#39;",
        "font-family",
        "analyticsToken",
        "footer script",
        "console.log",
    ] {
        assert!(!text.contains(banned), "{banned:?} in {text}");
    }
}

#[test]
fn max_pages_is_enforced_before_extracting() {
    let bytes = fixture("docs/kafka-consumer-groups.pdf");
    let limited = DocumentExtractor::with_pdf(
        pdf_extractor().clone(),
        ExtractOptions {
            max_pages: 2,
            ..ExtractOptions::default()
        },
    );
    let err = limited.extract(&bytes, MediaType::Pdf).unwrap_err();
    assert!(
        matches!(err, Error::TooManyPages { pages: 3, limit: 2 }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let exact = DocumentExtractor::with_pdf(
        pdf_extractor().clone(),
        ExtractOptions {
            max_pages: 3,
            ..ExtractOptions::default()
        },
    );
    assert_eq!(exact.extract(&bytes, MediaType::Pdf).unwrap().len(), 3);
    assert_eq!(ExtractOptions::default().max_pages, 5000);
}

#[test]
fn without_pdfium_only_pdfs_are_refused() {
    let text_only = DocumentExtractor::new(None, ExtractOptions::default()).unwrap();
    assert!(!text_only.supports_pdf());
    let err = text_only
        .extract(&fixture("docs/chess-openings.pdf"), MediaType::Pdf)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Pdfium(m) if m.starts_with("PDF support needs libpdfium")),
        "{err}"
    );
    let pages = text_only
        .extract(&fixture("docs/honeybee-swarms.txt"), MediaType::PlainText)
        .unwrap();
    assert_eq!(pages.len(), 1);
    let extractor: &dyn Extractor = &text_only;
    assert!(matches!(
        extractor.extract(b"", MediaType::Html),
        Err(Error::EmptyFile)
    ));
}

#[test]
fn extraction_from_many_threads_matches() {
    let bytes = fixture("docs/history-of-lighthouses.pdf");
    let expected = extractor().extract(&bytes, MediaType::Pdf).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| extractor().extract(&bytes, MediaType::Pdf).unwrap()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
}

/// `fixtures/golden/<name>.pages.json` is what this extractor produces for `fixtures/docs/<name>`.
/// `DOCFLEET_UPDATE_GOLDEN=1` rewrites them instead of comparing.
#[test]
fn golden_pages_match() {
    let update = std::env::var_os("DOCFLEET_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatched = Vec::new();
    for &(name, ..) in DOCS {
        let pages = run(&format!("docs/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let golden = fixture_path(&format!("golden/{name}.pages.json"));
        if update {
            let mut json = serde_json::to_string_pretty(&pages).unwrap();
            json.push('\n');
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, json).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; create it with DOCFLEET_UPDATE_GOLDEN=1",
                golden.display()
            )
        });
        let expected: Vec<Page> = serde_json::from_str(&text).unwrap();
        if expected != pages {
            mismatched.push(name);
        }
    }
    assert!(
        mismatched.is_empty(),
        "extracted pages differ from fixtures/golden for {mismatched:?}; if the change is \
         intended, rerun with DOCFLEET_UPDATE_GOLDEN=1 and review the diff"
    );
}
