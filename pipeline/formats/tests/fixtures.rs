//! Good fixtures against golden JSON (DOCFLEET_UPDATE_GOLDEN=1 rewrites them), key phrases in
//! the right section, reading order; bad fixtures refused with the right error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_formats::{Extracted, Format, FormatError, Limits, detect, extract};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/formats/");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn run(name: &str, format: Format) -> Extracted {
    let bytes = read(name);
    assert_eq!(detect(&bytes), Ok(Some(format)), "detect {name}");
    let out = extract(format, &bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    golden(name, &out);
    for s in &out.sections {
        for line in s.text.lines() {
            assert_eq!(
                line,
                line.trim_end(),
                "{name}: trailing whitespace in {line:?}"
            );
            assert!(!line.contains("  "), "{name}: double space in {line:?}");
        }
    }
    out
}

fn golden(name: &str, out: &Extracted) {
    let value = serde_json::json!({
        "sections": out.sections.iter().map(|s| serde_json::json!({"label": s.label, "text": s.text})).collect::<Vec<_>>(),
        "attachments": out.attachments.iter().map(|a| serde_json::json!({"name": a.name, "bytes": a.bytes.len()})).collect::<Vec<_>>(),
    });
    let path = format!("{DIR}golden/{name}.json");
    let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
    if std::env::var("DOCFLEET_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with DOCFLEET_UPDATE_GOLDEN=1 to create it)"));
    assert_eq!(
        text, want,
        "{name} differs from {path} (DOCFLEET_UPDATE_GOLDEN=1 to accept)"
    );
}

/// Asserts that the needles occur in `text` in this order.
fn in_order(text: &str, needles: &[&str]) {
    let mut at = 0;
    for n in needles {
        let i = text[at..]
            .find(n)
            .unwrap_or_else(|| panic!("{n:?} missing (or out of order) in {text}"));
        at += i + n.len();
    }
}

fn labels(out: &Extracted) -> Vec<Option<&str>> {
    out.sections.iter().map(|s| s.label.as_deref()).collect()
}

#[test]
fn docx_pages_headings_lists_tables() {
    let out = run("report.docx", Format::Docx);
    assert_eq!(
        labels(&out),
        [None, None],
        "two pages split at the page break"
    );
    in_order(
        &out.sections[0].text,
        &[
            "# Glacier Retreat in the Alps",
            "Aletsch Glacier lost 3.2 kilometres",
            "## Main drivers",
            "- Higher summer",
        ],
    );
    in_order(
        &out.sections[1].text,
        &[
            "## Measured length changes",
            "Glacier | Country | Retreat since 1870\nAletsch | Switzerland | 3.2 km",
            "Meltwater",
        ],
    );
}

#[test]
fn pptx_slides_in_order_with_notes() {
    let out = run("deck.pptx", Format::Pptx);
    assert_eq!(
        labels(&out),
        [Some("slide 1"), Some("slide 2"), Some("slide 3")]
    );
    in_order(
        &out.sections[1].text,
        &[
            "Stages of a Roast",
            "first crack at 196 degrees",
            "Speaker notes: Play the recording",
        ],
    );
    in_order(
        &out.sections[2].text,
        &["Roast | End temperature | Flavour", "Light | 205 C"],
    );
    assert!(!out.sections[0].text.contains("196 degrees"));
}

fn sheets(name: &str, format: Format) {
    let out = run(name, format);
    assert_eq!(
        labels(&out),
        [Some("sheet Budget"), Some("sheet Staff")],
        "{name}: empty sheet skipped"
    );
    in_order(
        &out.sections[0].text,
        &[
            "Item | Cost | Notes",
            "compost bins | 340 |",
            "Total | 1995",
        ],
    );
    assert!(
        out.sections[1]
            .text
            .contains("Amira Haddad | Garden coordinator | 10")
    );
}

#[test]
fn xlsx_sheets() {
    sheets("budget.xlsx", Format::Xlsx);
}

#[test]
fn xls_sheets() {
    sheets("budget.xls", Format::Xls);
}

#[test]
fn ods_sheets() {
    sheets("budget.ods", Format::Ods);
}

#[test]
fn odt_text() {
    let out = run("notes.odt", Format::Odt);
    assert_eq!(labels(&out), [None]);
    in_order(
        &out.sections[0].text,
        &[
            "# The History of the Bicycle",
            "## From running machine",
            "the penny-farthing of the 1870s",
            "- 1817: the Draisine",
            "Machine | Year | Drive",
        ],
    );
}

#[test]
fn odp_slides() {
    let out = run("talk.odp", Format::Odp);
    assert_eq!(labels(&out), [Some("slide 1"), Some("slide 2")]);
    in_order(
        &out.sections[0].text,
        &[
            "Bird Migration",
            "- Like many seabirds, arctic terns fly from pole to pole",
            "Speaker notes: Mention",
        ],
    );
    assert!(
        out.sections[1]
            .text
            .contains("Arctic tern | Greenland to Antarctica | 35 000 km")
    );
}

#[test]
fn epub_chapters() {
    let out = run("book.epub", Format::Epub);
    assert_eq!(labels(&out), [Some("chapter 1"), Some("chapter 2")]);
    in_order(&out.sections[0].text, &["# The New Moon", "- New moon:"]);
    in_order(
        &out.sections[1].text,
        &[
            "# From Full Moon",
            "waxing gibbous",
            "Phase | Days after new moon | Visible",
        ],
    );
}

#[test]
fn rtf_text() {
    let out = run("memo.rtf", Format::Rtf);
    let text = &out.sections[0].text;
    in_order(
        text,
        &[
            "# Memo: Desalination Plants",
            "## Technologies compared",
            "- Plants using reverse osmosis membranes",
            "0.60 \u{20ac} per cubic metre",
            "caf\u{e9}",
            "Option | Energy (kWh/m3) | Capital cost",
            "brine",
        ],
    );
}

#[test]
fn eml_body_and_attachment() {
    let out = run("message.eml", Format::Eml);
    assert_eq!(labels(&out), [None]);
    in_order(
        &out.sections[0].text,
        &[
            "From: Rosa Lindqvist <rosa@greenhouse.example>",
            "Subject: Orchid care",
            "water orchids once a week",
        ],
    );
    assert_eq!(out.attachments.len(), 1);
    assert_eq!(out.attachments[0].name, "care-schedule.txt");
    assert!(String::from_utf8_lossy(&out.attachments[0].bytes).contains("repot every two years"));
    let err = extract(
        Format::Eml,
        &read("message.eml"),
        &Limits {
            max_attachments: 0,
            ..Limits::default()
        },
    );
    assert!(
        matches!(err, Err(FormatError::ArchiveLimit { ref message }) if message.contains("attachments"))
    );
}

#[test]
fn section_limit() {
    let limits = Limits {
        max_sections: 2,
        ..Limits::default()
    };
    let err = extract(Format::Pptx, &read("deck.pptx"), &limits).unwrap_err();
    assert_eq!(
        err,
        FormatError::TooManySections {
            sections: 3,
            limit: 2
        }
    );
}

#[test]
fn bad_zip_bomb() {
    let bytes = read("bad/zip-bomb.docx");
    assert!(bytes.len() < 1 << 20);
    assert_eq!(detect(&bytes), Ok(Some(Format::Docx)));
    let err = extract(Format::Docx, &bytes, &Limits::default()).unwrap_err();
    let FormatError::ArchiveLimit { message } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("word/document.xml") && message.contains("limit 200x"),
        "{message}"
    );
    // With the ratio check off, the total cap still stops it.
    let limits = Limits {
        max_entry_ratio: u64::MAX / 2,
        max_unpacked_bytes: 10 << 20,
        ..Limits::default()
    };
    let err = extract(Format::Docx, &bytes, &limits).unwrap_err();
    assert!(
        matches!(&err, FormatError::ArchiveLimit { message } if message.contains("10 MiB")),
        "{err}"
    );
}

#[test]
fn bad_billion_laughs() {
    let err = extract(
        Format::Docx,
        &read("bad/billion-laughs.docx"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, FormatError::UnsafeXml { message } if message.contains("word/document.xml") && message.contains("entities")),
        "{err}"
    );
}

#[test]
fn bad_truncated() {
    let bytes = read("bad/truncated.docx");
    assert_eq!(detect(&bytes), Ok(Some(Format::Docx)));
    let err = extract(Format::Docx, &bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, FormatError::Corrupt { format: Format::Docx, message } if message.contains("ZIP")),
        "{err}"
    );
    assert!(err.to_string().starts_with("corrupt or unreadable DOCX"));
}

#[test]
fn bad_corrupt_xlsx() {
    let bytes = read("bad/corrupt.xlsx");
    assert_eq!(detect(&bytes), Ok(Some(Format::Xlsx)));
    let err = extract(Format::Xlsx, &bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Corrupt {
                format: Format::Xlsx,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn bad_encrypted_ooxml() {
    let err = detect(&read("bad/encrypted.docx")).unwrap_err();
    assert!(matches!(err, FormatError::Encrypted { .. }), "{err}");
    assert!(err.to_string().contains("password"));
    assert!(!err.is_retryable());
    let err = extract(
        Format::Docx,
        &read("bad/encrypted.docx"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, FormatError::Encrypted { .. }), "{err}");
}

#[test]
fn bad_rtf_nesting() {
    let err = extract(Format::Rtf, &read("bad/unbalanced.rtf"), &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, FormatError::Corrupt { format: Format::Rtf, message } if message.contains("nested deeper")),
        "{err}"
    );
}

/// Detects `name` by its bytes as `format` and returns the error `extract` gives.
fn refused(name: &str, format: Format) -> FormatError {
    let bytes = read(name);
    assert_eq!(detect(&bytes), Ok(Some(format)), "detect {name}");
    match extract(format, &bytes, &Limits::default()) {
        Ok(out) => panic!("{name}: extracted {out:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_truncated_pptx() {
    let err = refused("bad/truncated.pptx", Format::Pptx);
    assert!(
        matches!(&err, FormatError::Corrupt { format: Format::Pptx, message } if message.contains("not a readable ZIP container")),
        "{err}"
    );
    assert!(err.to_string().starts_with("corrupt or unreadable PPTX"));
}

#[test]
fn bad_pptx_missing_slide() {
    let err = refused("bad/missing-slide.pptx", Format::Pptx);
    assert_eq!(
        err,
        FormatError::Corrupt {
            format: Format::Pptx,
            message: "ppt/slides/slide2.xml is missing".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "corrupt or unreadable PPTX: ppt/slides/slide2.xml is missing"
    );
}

#[test]
fn bad_corrupt_xls() {
    let err = refused("bad/corrupt.xls", Format::Xls);
    assert!(
        matches!(&err, FormatError::Corrupt { format: Format::Xls, message } if message.contains("workbook cannot be read")),
        "{err}"
    );
    assert!(err.to_string().starts_with("corrupt or unreadable XLS"));
}

#[test]
fn bad_truncated_ods() {
    let err = refused("bad/truncated.ods", Format::Ods);
    assert!(
        matches!(&err, FormatError::Corrupt { format: Format::Ods, message } if message.contains("not a readable ZIP container")),
        "{err}"
    );
}

#[test]
fn bad_odt_missing_content() {
    let err = refused("bad/missing-content.odt", Format::Odt);
    assert_eq!(
        err.to_string(),
        "corrupt or unreadable ODT: content.xml is missing"
    );
    assert!(matches!(
        err,
        FormatError::Corrupt {
            format: Format::Odt,
            ..
        }
    ));
}

#[test]
fn bad_odp_entities() {
    let err = refused("bad/entities.odp", Format::Odp);
    assert!(
        matches!(&err, FormatError::UnsafeXml { message } if message.contains("content.xml") && message.contains("entities")),
        "{err}"
    );
}

#[test]
fn bad_epub_missing_opf() {
    let err = refused("bad/missing-opf.epub", Format::Epub);
    assert_eq!(
        err,
        FormatError::Corrupt {
            format: Format::Epub,
            message: "OEBPS/content.opf is missing".into()
        }
    );
}

#[test]
fn bad_encrypted_odt() {
    let bytes = read("bad/encrypted.odt");
    let err = detect(&bytes).unwrap_err();
    assert_eq!(
        err,
        FormatError::Encrypted {
            format_name: "ODT".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "ODT is password-protected (encrypted); remove the password and upload it again"
    );
    assert_eq!(extract(Format::Odt, &bytes, &Limits::default()), Err(err));
}

#[test]
fn bad_empty_xlsx() {
    let err = refused("bad/empty.xlsx", Format::Xlsx);
    assert_eq!(
        err,
        FormatError::NoText {
            message: "every sheet of the XLSX workbook is empty".into()
        }
    );
}

#[test]
fn bad_eml_empty_body() {
    let err = refused("bad/empty-body.eml", Format::Eml);
    assert_eq!(
        err.to_string(),
        "no text found: the e-mail has no body text and no attachments (only headers)"
    );
    assert!(matches!(err, FormatError::NoText { .. }));
}

/// What the extraction lane relies on: every file in bad/ is refused, by `detect` or `extract`.
#[test]
fn every_bad_fixture_is_refused() {
    let mut names: Vec<String> = std::fs::read_dir(format!("{DIR}bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 16, "{names:?}");
    for name in names {
        let bytes = read(&format!("bad/{name}"));
        let result = match detect(&bytes) {
            Ok(Some(format)) => extract(format, &bytes, &Limits::default()),
            Ok(None) => panic!("{name}: not detected"),
            Err(e) => Err(e),
        };
        let err = result.err().unwrap_or_else(|| panic!("{name}: extracted"));
        assert!(err.to_string().len() > 15, "{name}: {err}");
    }
}
