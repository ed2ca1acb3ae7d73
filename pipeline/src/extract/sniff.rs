//! Media-type sniffing: what a file is, from its bytes first and its name second.

use std::fmt;

use docfleet_formats::Format;
use docfleet_ocr::ImageFormat;

use super::office::format_error;
use crate::{Error, Result};

/// The document types the extract lane understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Pdf,
    PlainText,
    Markdown,
    Html,
    /// PNG, JPEG, TIFF, BMP, WebP: recognised by OCR.
    Image(ImageFormat),
    /// Office, OpenDocument, EPUB, RTF, e-mail: read by `docfleet-formats`.
    Document(Format),
}

impl MediaType {
    /// The MIME type.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::PlainText => "text/plain",
            MediaType::Markdown => "text/markdown",
            MediaType::Html => "text/html",
            MediaType::Image(format) => format.mime(),
            MediaType::Document(format) => format.mime(),
        }
    }

    /// The inverse of [`Self::as_str`].
    pub fn from_mime(mime: &str) -> Option<Self> {
        let plain = [
            MediaType::Pdf,
            MediaType::PlainText,
            MediaType::Markdown,
            MediaType::Html,
        ];
        plain
            .into_iter()
            .find(|m| m.as_str() == mime)
            .or_else(|| ImageFormat::from_mime(mime).map(MediaType::Image))
            .or_else(|| Format::from_mime(mime).map(MediaType::Document))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PDF readers accept the header anywhere in the first 1024 bytes.
const PDF_HEADER_WINDOW: usize = 1024;
/// How far into a text file the HTML markers are looked for.
const HTML_MARKER_WINDOW: usize = 1024;
/// How much of a file the binary heuristics look at.
const BINARY_PROBE: usize = 8192;

const OCTET_STREAM: &str = "application/octet-stream";

/// Decides the media type of a document from its content; `file_name` is only a hint (it picks
/// Markdown over plain text, and a `.pdf` name that is not a PDF is reported as a corrupt PDF).
/// Images are told by their magic bytes, Office/OpenDocument/EPUB by the entries of their zip,
/// XLS by its OLE2 streams, RTF and e-mail by how they start.
///
/// Errors: [`Error::EmptyFile`] for 0 bytes, [`Error::CorruptPdf`] for a `.pdf` without a PDF
/// header, [`Error::UnsupportedMediaType`] for other binary formats and binary data,
/// [`Error::Document`] for an encrypted Office file, [`Error::InvalidUtf8`] for text that is
/// not UTF-8.
pub fn sniff(bytes: &[u8], file_name: Option<&str>) -> Result<MediaType> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile);
    }
    let window = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    if find(window, b"%PDF-").is_some() {
        return Ok(MediaType::Pdf);
    }
    let ext = extension(file_name);
    if let Some(format) = ImageFormat::detect(bytes) {
        return Ok(MediaType::Image(format));
    }
    if let Some(format) = docfleet_formats::detect(bytes).map_err(format_error)? {
        return Ok(MediaType::Document(format));
    }

    // A few binary signatures are two letters ("BC", LLVM bitcode): UTF-8 without control
    // characters is text whatever it starts with, so infer's word only counts for the rest.
    let plain_text = !looks_binary(bytes) && std::str::from_utf8(bytes).is_ok();
    if let Some(kind) = infer::get(bytes).filter(|_| !plain_text) {
        match kind.mime_type() {
            "text/html" => return Ok(MediaType::Html),
            // XHTML starts with an XML declaration.
            "text/xml" if std::str::from_utf8(bytes).is_ok_and(looks_like_html) => {
                return Ok(MediaType::Html);
            }
            // Shell scripts and the like are text: index them as such.
            mime if kind.matcher_type() == infer::MatcherType::Text && mime != "text/xml" => {}
            mime => return Err(unsupported(mime)),
        }
    }
    if ext.as_deref() == Some("pdf") {
        return Err(Error::CorruptPdf(
            "not a PDF: missing %PDF header".to_owned(),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(unsupported(
            "text/plain; charset=utf-16 (convert it to UTF-8)",
        ));
    }
    if looks_binary(bytes) {
        return Err(unsupported(OCTET_STREAM));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return Err(Error::InvalidUtf8(e.valid_up_to())),
    };
    if looks_like_html(text) {
        return Ok(MediaType::Html);
    }
    Ok(match ext.as_deref() {
        Some("md" | "markdown" | "mdown" | "mkd") => MediaType::Markdown,
        Some("html" | "htm" | "xhtml") => MediaType::Html,
        _ => MediaType::PlainText,
    })
}

fn unsupported(mime: &str) -> Error {
    Error::UnsupportedMediaType {
        media_type: mime.to_owned(),
    }
}

/// The lower-cased extension of a file name, if any.
fn extension(file_name: Option<&str>) -> Option<String> {
    let name = file_name?.rsplit(['/', '\\']).next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// NUL bytes, or many control characters, in the first [`BINARY_PROBE`] bytes mean binary data.
fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    let probe = &bytes[..bytes.len().min(BINARY_PROBE)];
    let controls = probe
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0C | 0x1B))
        .count();
    controls * 10 > probe.len()
}

/// HTML is text that starts with markup (after a BOM, whitespace, comments or an XML
/// declaration) and names `<!doctype html`, `<html`, `<head` or `<body` near its start.
fn looks_like_html(text: &str) -> bool {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if !start.starts_with('<') {
        return false;
    }
    let mut end = start.len().min(HTML_MARKER_WINDOW);
    while !start.is_char_boundary(end) {
        end -= 1;
    }
    let head = start[..end].to_ascii_lowercase();
    ["<!doctype html", "<html", "<head", "<body"]
        .iter()
        .any(|marker| head.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_header_is_found_within_the_first_kilobyte() {
        assert_eq!(sniff(b"%PDF-1.7\n...", None).ok(), Some(MediaType::Pdf));
        let mut junk = vec![b' '; 500];
        junk.extend_from_slice(b"%PDF-1.4\n");
        assert_eq!(sniff(&junk, Some("x.bin")).ok(), Some(MediaType::Pdf));
        let mut late = vec![b'a'; 2000];
        late.extend_from_slice(b"%PDF-1.4\n");
        assert_eq!(sniff(&late, None).ok(), Some(MediaType::PlainText));
    }

    #[test]
    fn html_is_detected_by_content_case_insensitively() {
        for doc in [
            "<!DOCTYPE html><p>x</p>",
            "\u{feff}  \n<HTML><body>x</body></HTML>",
            "<!-- generated -->\n<head><title>t</title></head>",
            "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"></html>",
        ] {
            assert_eq!(
                sniff(doc.as_bytes(), Some("page.txt")).ok(),
                Some(MediaType::Html),
                "{doc}"
            );
        }
        // Text that merely mentions tags is not HTML.
        let md = "# Tags\n\nUse `<html>` and `<body>` in your page.\n";
        assert_eq!(
            sniff(md.as_bytes(), Some("notes.md")).ok(),
            Some(MediaType::Markdown)
        );
        assert_eq!(
            sniff(b"<p>fragment</p>", Some("a.HTM")).ok(),
            Some(MediaType::Html)
        );
    }

    #[test]
    fn extension_picks_markdown_over_plain_text() {
        assert_eq!(
            sniff(b"# Title\n", Some("dir/README.md")).ok(),
            Some(MediaType::Markdown)
        );
        assert_eq!(
            sniff(b"# Title\n", Some("a.Markdown")).ok(),
            Some(MediaType::Markdown)
        );
        assert_eq!(
            sniff(b"# Title\n", Some("a.txt")).ok(),
            Some(MediaType::PlainText)
        );
        assert_eq!(sniff(b"# Title\n", None).ok(), Some(MediaType::PlainText));
        assert_eq!(
            sniff(b"plain", Some(".md")).ok(),
            Some(MediaType::PlainText)
        );
    }

    #[test]
    fn a_pdf_name_does_not_make_a_pdf() {
        let err = sniff(b"hello, I am text", Some("report.PDF")).unwrap_err();
        assert!(
            matches!(&err, Error::CorruptPdf(m) if m.contains("missing %PDF header")),
            "{err}"
        );
        // A known binary format keeps its own type even behind a .pdf extension.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(
            sniff(png, Some("scan.pdf")).ok(),
            Some(MediaType::Image(ImageFormat::Png))
        );
        let gif = b"GIF89a\x01\0\x01\0\0\0\0;";
        let err = sniff(gif, Some("scan.pdf")).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedMediaType { media_type } if media_type == "image/gif")
        );
    }

    #[test]
    fn text_that_starts_like_a_binary_signature_is_text() {
        for text in [
            "BC1 RNA is a small non-coding RNA found in neurons.",
            "BMI-1 is a polycomb ring finger oncogene.",
            "MZ hybrids of maize",
        ] {
            assert_eq!(
                sniff(text.as_bytes(), Some("abstract.txt")).ok(),
                Some(MediaType::PlainText),
                "{text}"
            );
        }
    }

    #[test]
    fn binary_and_bad_text_are_refused() {
        assert!(matches!(sniff(b"", Some("a.txt")), Err(Error::EmptyFile)));
        let err = sniff(b"abc\0def", Some("a.txt")).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedMediaType { media_type } if media_type == OCTET_STREAM)
        );
        assert!(matches!(
            sniff(b"caf\xe9 au lait", None),
            Err(Error::InvalidUtf8(3))
        ));
        assert!(matches!(
            sniff(b"\xff\xfeh\0i\0", None),
            Err(Error::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            sniff(b"PK\x03\x04\x14\0\0\0", None),
            Err(Error::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn media_type_strings() {
        assert_eq!(MediaType::Pdf.as_str(), "application/pdf");
        assert_eq!(MediaType::Markdown.to_string(), "text/markdown");
        assert_eq!(MediaType::Html.as_str(), "text/html");
        assert_eq!(MediaType::PlainText.as_str(), "text/plain");
        let every = [
            MediaType::Pdf,
            MediaType::PlainText,
            MediaType::Markdown,
            MediaType::Html,
        ]
        .into_iter()
        .chain(Format::all().iter().copied().map(MediaType::Document))
        .chain(
            [
                ImageFormat::Png,
                ImageFormat::Jpeg,
                ImageFormat::Tiff,
                ImageFormat::Bmp,
                ImageFormat::Webp,
            ]
            .map(MediaType::Image),
        );
        for m in every {
            assert_eq!(MediaType::from_mime(m.as_str()), Some(m), "{m}");
        }
        assert_eq!(MediaType::from_mime("image/gif"), None);
    }
}
