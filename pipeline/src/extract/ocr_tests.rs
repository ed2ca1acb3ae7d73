//! OCR through the whole lane: scanned and mixed PDFs (rendered by PDFium, recognised by
//! Tesseract) and image files, checked against the text they were made from
//! (fixtures/ocr/README.md). Needs Tesseract (./scripts/setup installs it).

use docfleet_ocr::char_error_rate;

use super::tests::{fixture, pdf_extractor};
use super::*;

fn extractor(ocr: OcrSettings) -> DocumentExtractor {
    let options = ExtractOptions {
        ocr,
        ..ExtractOptions::default()
    };
    DocumentExtractor::with_pdf(pdf_extractor().clone(), options)
}

fn extract(rel: &str, ocr: OcrSettings) -> Result<Vec<Page>> {
    let bytes = fixture(rel);
    let media_type = sniff(&bytes, Some(rel))?;
    extractor(ocr).extract(&bytes, media_type)
}

/// Ground truth pages: the `.txt` beside the fixture, pages split by form feeds.
fn truth(rel: &str) -> Vec<String> {
    let text = String::from_utf8(fixture(rel)).unwrap();
    text.split('\u{c}').map(str::to_owned).collect()
}

/// (fixture, ground truth, pages, highest character error rate allowed)
const SCANS: &[(&str, &str, usize, f64)] = &[
    ("ocr/scanned-letter.pdf", "ocr/scanned-letter.txt", 2, 0.03),
    ("ocr/receipt.png", "ocr/receipt.txt", 1, 0.03),
    ("ocr/sign.jpg", "ocr/sign.txt", 1, 0.03),
    ("ocr/fax.tiff", "ocr/fax.txt", 2, 0.03),
    ("ocr/note.bmp", "ocr/note.txt", 1, 0.03),
    ("ocr/poster.webp", "ocr/poster.txt", 1, 0.03),
];

#[test]
fn scans_are_recognised_close_to_their_source_text() {
    eprintln!("{:<26} {:>5} {:>8} {:>6}", "fixture", "page", "CER", "conf");
    for &(rel, truth_rel, pages_expected, max_cer) in SCANS {
        let pages = extract(rel, OcrSettings::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(pages.len(), pages_expected, "{rel}");
        let truth = truth(truth_rel);
        for (page, want) in pages.iter().zip(&truth) {
            let cer = char_error_rate(want, &page.text);
            let confidence = page
                .ocr_confidence
                .unwrap_or_else(|| panic!("{rel}: not OCR'd"));
            eprintln!("{rel:<26} {:>5} {cer:>8.4} {confidence:>6}", page.number);
            assert!(
                cer <= max_cer,
                "{rel} page {}: CER {cer:.4} over {max_cer}\n--- got:\n{}\n--- want:\n{want}",
                page.number,
                page.text
            );
            assert!(confidence >= 60, "{rel}: confidence {confidence}");
        }
    }
}

#[test]
fn a_mixed_pdf_keeps_its_text_layer_and_recognises_the_scanned_page() {
    let pages = extract("ocr/mixed.pdf", OcrSettings::default()).unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].ocr_confidence, None, "page 1 has a text layer");
    assert!(
        pages[0].text.contains("matcha whisked in a chawan"),
        "{:?}",
        pages[0].text
    );
    assert!(pages[1].ocr_confidence.is_some(), "page 2 is a scan");
    let want = truth("ocr/mixed.txt");
    let cer = char_error_rate(want.last().unwrap(), &pages[1].text);
    eprintln!("ocr/mixed.pdf page 2: CER {cer:.4}");
    assert!(cer <= 0.03, "CER {cer}: {:?}", pages[1].text);
}

#[test]
fn ocr_off_and_force_do_what_they_say() {
    let off = OcrSettings {
        mode: OcrMode::Off,
        ..OcrSettings::default()
    };
    let err = extract("ocr/scanned-letter.pdf", off.clone()).unwrap_err();
    assert!(
        matches!(&err, Error::NoText(m) if m.contains("--ocr off")),
        "{err}"
    );
    let err = extract("ocr/receipt.png", off.clone()).unwrap_err();
    assert!(matches!(&err, Error::Ocr(m) if m.contains("off")), "{err}");
    let mixed = extract("ocr/mixed.pdf", off).unwrap();
    assert!(mixed[1].text.trim().is_empty() && mixed[1].ocr_confidence.is_none());

    let force = OcrSettings {
        mode: OcrMode::Force,
        ..OcrSettings::default()
    };
    let pages = extract("docs/chess-openings.pdf", force).unwrap();
    assert!(
        pages.iter().all(|p| p.ocr_confidence.is_some()),
        "every page OCR'd"
    );
    let layer = extract("docs/chess-openings.pdf", OcrSettings::default()).unwrap();
    let cer = char_error_rate(&layer[0].text, &pages[0].text);
    eprintln!("chess-openings.pdf page 1, OCR vs text layer: CER {cer:.4}");
    assert!(cer <= 0.05, "CER {cer}");
}

#[test]
fn ocr_limits_fail_the_document_clearly() {
    let few_pages = OcrSettings {
        max_pages: 1,
        ..OcrSettings::default()
    };
    let err = extract("ocr/scanned-letter.pdf", few_pages).unwrap_err();
    assert!(err.to_string().contains("ocr_max_pages"), "{err}");

    let few_pixels = OcrSettings {
        max_pixels: 10_000,
        ..OcrSettings::default()
    };
    let err = extract("ocr/receipt.png", few_pixels).unwrap_err();
    assert!(err.to_string().contains("ocr_max_pixels"), "{err}");

    for (rel, what) in [
        ("ocr/bad/pixel-bomb.png", "ocr_max_pixels"),
        ("ocr/bad/truncated.png", "PNG"),
        ("ocr/bad/not-really.jpg", "JPEG"),
        ("ocr/bad/blank.png", "no text"),
    ] {
        let err = extract(rel, OcrSettings::default()).unwrap_err();
        eprintln!("{rel}: {err}");
        assert!(err.to_string().contains(what), "{rel}: {err}");
        assert!(!err.is_retryable(), "{rel}");
    }
}
