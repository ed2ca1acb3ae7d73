//! Office, OpenDocument, EPUB, RTF and e-mail through the lane: told apart by their bytes alone,
//! pages labelled, attachments read (fixtures/formats/README.md).

use docfleet_formats::Format;

use super::tests::{fixture, pdf_extractor};
use super::*;

fn extractor() -> DocumentExtractor {
    DocumentExtractor::with_pdf(pdf_extractor().clone(), ExtractOptions::default())
}

/// (fixture, its format, a phrase it holds, the label of the page holding it)
const FORMATS: &[(&str, Format, &str, Option<&str>)] = &[
    (
        "report.docx",
        Format::Docx,
        "Aletsch Glacier lost 3.2 kilometres",
        None,
    ),
    (
        "deck.pptx",
        Format::Pptx,
        "first crack at 196 degrees",
        Some("slide 2"),
    ),
    (
        "budget.xlsx",
        Format::Xlsx,
        "compost bins | 340",
        Some("sheet Budget"),
    ),
    (
        "budget.xls",
        Format::Xls,
        "compost bins | 340",
        Some("sheet Budget"),
    ),
    (
        "budget.ods",
        Format::Ods,
        "compost bins | 340",
        Some("sheet Budget"),
    ),
    (
        "notes.odt",
        Format::Odt,
        "the penny-farthing of the 1870s",
        None,
    ),
    (
        "talk.odp",
        Format::Odp,
        "arctic terns fly from pole to pole",
        None,
    ),
    ("book.epub", Format::Epub, "waxing gibbous", None),
    ("memo.rtf", Format::Rtf, "reverse osmosis membranes", None),
    (
        "message.eml",
        Format::Eml,
        "water orchids once a week",
        None,
    ),
];

#[test]
fn every_format_is_sniffed_by_its_bytes_and_read() {
    for &(name, format, phrase, label) in FORMATS {
        let bytes = fixture(&format!("formats/{name}"));
        assert_eq!(
            sniff(&bytes, None).unwrap_or_else(|e| panic!("{name}: {e}")),
            MediaType::Document(format),
            "{name} without its name"
        );
        let pages = extractor()
            .extract(&bytes, MediaType::Document(format))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let holder = pages
            .iter()
            .find(|p| p.text.contains(phrase))
            .unwrap_or_else(|| panic!("{name}: {phrase:?} not in {pages:#?}"));
        if let Some(label) = label {
            assert_eq!(holder.label.as_deref(), Some(label), "{name}");
        }
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(
                page.number as usize,
                i + 1,
                "{name}: pages numbered in order"
            );
        }
    }
}

#[test]
fn slides_are_labelled_and_attachments_follow_the_message() {
    let pages = extractor()
        .extract(
            &fixture("formats/talk.odp"),
            MediaType::Document(Format::Odp),
        )
        .unwrap();
    let labels: Vec<_> = pages
        .iter()
        .map(|p| p.label.clone().unwrap_or_default())
        .collect();
    assert_eq!(labels, ["slide 1", "slide 2"]);

    let pages = extractor()
        .extract(
            &fixture("formats/message.eml"),
            MediaType::Document(Format::Eml),
        )
        .unwrap();
    let attachment = pages
        .iter()
        .find(|p| p.text.contains("repot every two years"))
        .unwrap_or_else(|| panic!("the attachment's text: {pages:#?}"));
    assert_eq!(
        attachment.label.as_deref(),
        Some("attachment care-schedule.txt")
    );
    assert!(pages[0].text.contains("water orchids once a week"));
}

#[test]
fn hostile_and_broken_documents_fail_with_their_cause() {
    let dir = super::tests::fixture_path("formats/bad");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let bytes = fixture(&format!("formats/bad/{name}"));
        let result = sniff(&bytes, Some(&name)).and_then(|m| extractor().extract(&bytes, m));
        let err = match result {
            Ok(pages) => panic!("{name}: extracted {pages:?}"),
            Err(e) => e,
        };
        eprintln!("{name}: {err}");
        assert!(!err.is_retryable(), "{name}");
        assert!(err.to_string().len() > 15, "{name}: {err}");
    }
}

#[test]
fn an_unreadable_attachment_is_named_in_the_message_not_fatal() {
    let eml = "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: Pond pumps\r\n\
        Date: Mon, 2 Feb 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
        --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        The pond pump needs a new filter sponge every spring.\r\n\
        --b1\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\
        Content-Disposition: attachment; filename=\"pump.gif\"\r\n\r\n\
        R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==\r\n--b1--\r\n";
    let pages = extractor()
        .extract(eml.as_bytes(), MediaType::Document(Format::Eml))
        .unwrap();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    let text = &pages[0].text;
    assert!(text.contains("new filter sponge"), "{text}");
    assert!(
        text.contains("[attachment pump.gif not indexed: unsupported media type image/gif]"),
        "{text}"
    );
}
