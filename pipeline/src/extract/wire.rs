//! The protocol between the parent and an extractor child process, on the child's stdin/stdout.
//!
//! Every frame is a `u32` little-endian length followed by that many bytes. A request is two
//! frames: a JSON [`RequestHeader`] (`{"media_type": "application/pdf", "max_pages": 5000,
//! "ocr": {...}}`) and the document bytes. While it works the child may send empty
//! [`HEARTBEAT`] frames; the answer is one JSON frame, a [`Response`]: `{"ok": [pages]}` or
//! `{"err": {"kind": "corrupt_pdf", "message": "..."}}`. Errors travel as [`WireError`]: only
//! the failures extraction produces, each mapping back to the same [`Error`] variant, so messages
//! and [`Error::is_retryable`] are the same as with in-process extraction.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::{ExtractOptions, MediaType};
use crate::{Error, Page};

/// Largest request header frame: a few dozen bytes of JSON in practice.
pub const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Largest answer frame. Extracted text can outgrow the file (compressed PDF streams), so this is
/// generous; frames are read as the bytes arrive, so a garbage length allocates nothing up front.
pub const MAX_RESPONSE_BYTES: u64 = 1 << 30;

/// Writes one frame. Frames over `u32::MAX` bytes cannot be encoded and are refused.
pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes is over the 4 GiB limit", bytes.len()),
        )
    })?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// Reads one frame of at most `max_bytes`. `Ok(None)` is a clean end of stream (EOF before any
/// byte of a frame); EOF inside a frame is [`io::ErrorKind::UnexpectedEof`], a declared length
/// over `max_bytes` is [`io::ErrorKind::InvalidData`] (nothing is allocated for it).
pub fn read_frame(r: &mut impl Read, max_bytes: u64) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(truncated("length", got, 4)),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u64::from(u32::from_le_bytes(len));
    if len > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {max_bytes} bytes"),
        ));
    }
    // Grows as bytes arrive (bounded first allocation) instead of trusting the length.
    let mut buf = Vec::with_capacity(len.min(64 * 1024) as usize);
    r.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(truncated("body", buf.len() as u64, len));
    }
    Ok(Some(buf))
}

fn truncated(what: &str, got: impl std::fmt::Display, want: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("truncated frame {what}: {got} of {want} bytes"),
    )
}

/// The first frame of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    /// The MIME type, as [`MediaType::as_str`] writes it.
    pub media_type: String,
    /// `max_pages` and `ocr`, at the top level of the header.
    #[serde(flatten)]
    pub options: ExtractOptions,
}

/// Parses a MIME type written by [`MediaType::as_str`].
pub fn parse_media_type(mime: &str) -> Option<MediaType> {
    MediaType::from_mime(mime)
}

/// A zero-length frame from the child: "still working" (sent after each OCR'd page), which
/// restarts the parent's deadline. No answer is ever empty (answers are JSON objects).
pub const HEARTBEAT: &[u8] = &[];

/// The answer frame.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(Vec<Page>),
    Err(WireError),
}

/// A failure of extraction on the wire: only what extracting a document can produce (the
/// document is bad, unsupported or unreadable; OCR or PDFium failed). `kind` names the variant,
/// the other fields are its contents; each maps back to the [`Error`] variant of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    UnsupportedMediaType { media_type: String },
    TooManyPages { pages: u64, limit: u64 },
    EmptyFile,
    Encrypted,
    CorruptPdf { message: String },
    NoText { message: String },
    Document { message: String },
    Ocr { message: String },
    InvalidUtf8 { offset: usize },
    Pdfium { message: String },
}

impl WireError {
    /// The wire form of an extraction failure; `None` for an error extraction does not produce
    /// (a timeout, a crash, the index, the store...), which no answer can carry.
    pub fn of(e: &Error) -> Option<Self> {
        Some(match e {
            Error::UnsupportedMediaType { media_type } => WireError::UnsupportedMediaType {
                media_type: media_type.clone(),
            },
            Error::TooManyPages { pages, limit } => WireError::TooManyPages {
                pages: *pages,
                limit: *limit,
            },
            Error::EmptyFile => WireError::EmptyFile,
            Error::Encrypted => WireError::Encrypted,
            Error::CorruptPdf(m) => WireError::CorruptPdf { message: m.clone() },
            Error::NoText(m) => WireError::NoText { message: m.clone() },
            Error::Document(m) => WireError::Document { message: m.clone() },
            Error::Ocr(m) => WireError::Ocr { message: m.clone() },
            Error::InvalidUtf8(offset) => WireError::InvalidUtf8 { offset: *offset },
            Error::Pdfium(m) => WireError::Pdfium { message: m.clone() },
            _ => return None,
        })
    }
}

impl From<WireError> for Error {
    fn from(w: WireError) -> Self {
        match w {
            WireError::UnsupportedMediaType { media_type } => {
                Error::UnsupportedMediaType { media_type }
            }
            WireError::TooManyPages { pages, limit } => Error::TooManyPages { pages, limit },
            WireError::EmptyFile => Error::EmptyFile,
            WireError::Encrypted => Error::Encrypted,
            WireError::CorruptPdf { message } => Error::CorruptPdf(message),
            WireError::NoText { message } => Error::NoText(message),
            WireError::Document { message } => Error::Document(message),
            WireError::Ocr { message } => Error::Ocr(message),
            WireError::InvalidUtf8 { offset } => Error::InvalidUtf8(offset),
            WireError::Pdfium { message } => Error::Pdfium(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error extraction produces: one per wire variant.
    fn extraction_errors() -> Vec<Error> {
        vec![
            Error::UnsupportedMediaType {
                media_type: "image/gif".into(),
            },
            Error::TooManyPages { pages: 9, limit: 3 },
            Error::EmptyFile,
            Error::Encrypted,
            Error::CorruptPdf("the file is damaged".into()),
            Error::NoText("no text layer on any of 2 pages".into()),
            Error::Document("corrupt or unreadable DOCX: word/document.xml is missing".into()),
            Error::Ocr("OCR of one page took longer than 60 s (ocr_page_timeout_secs)".into()),
            Error::InvalidUtf8(17),
            Error::Pdfium("opening the PDF: x".into()),
        ]
    }

    #[test]
    fn every_extraction_error_round_trips_with_the_same_variant_message_and_retryability() {
        for e in extraction_errors() {
            let wire = WireError::of(&e).unwrap_or_else(|| panic!("{e:?} has no wire form"));
            let json = serde_json::to_string(&Response::Err(wire)).unwrap();
            assert!(json.starts_with(r#"{"err":{"kind":""#), "{json}");
            let Response::Err(w) = serde_json::from_str::<Response>(&json).unwrap() else {
                panic!("{json} is not an error")
            };
            let back = Error::from(w);
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&e),
                "{json}"
            );
            assert_eq!(back.to_string(), e.to_string(), "{json}");
            assert_eq!(back.is_retryable(), e.is_retryable(), "{json}");
        }
    }

    #[test]
    fn errors_that_extraction_does_not_produce_have_no_wire_form() {
        use docfleet_models::Error as M;
        for e in [
            Error::TooLarge {
                size_bytes: 2,
                limit_bytes: 1,
            },
            Error::ExtractTimeout { secs: 120 },
            Error::ExtractorCrashed("killed by signal 11, SIGSEGV".into()),
            Error::SourceNotFound("s3://b/k".into()),
            Error::Chunking("c".into()),
            Error::Model(M::Tokenizer("t".into())),
            Error::EmbedLane("lane stopped".into()),
            Error::IndexInUse { dir: "/d".into() },
            Error::index("down", true),
            Error::store("denied", false),
            Error::profile("unknown model", false),
            Error::Io(io::Error::other("disk full")),
        ] {
            assert_eq!(WireError::of(&e), None, "{e:?}");
        }
    }

    #[test]
    fn wire_shapes_are_stable() {
        let corrupt = WireError::of(&Error::CorruptPdf("bad xref".into())).unwrap();
        assert_eq!(
            serde_json::to_string(&Response::Err(corrupt)).unwrap(),
            r#"{"err":{"kind":"corrupt_pdf","message":"bad xref"}}"#
        );
        let pages = vec![Page::new(1, "hi")];
        assert_eq!(
            serde_json::to_string(&Response::Ok(pages)).unwrap(),
            r#"{"ok":[{"number":1,"text":"hi"}]}"#
        );
        let header = RequestHeader {
            media_type: MediaType::Pdf.as_str().into(),
            options: ExtractOptions {
                max_pages: 5,
                ..ExtractOptions::default()
            },
        };
        let json = serde_json::to_string(&header).unwrap();
        assert!(
            json.starts_with(r#"{"media_type":"application/pdf","max_pages":5,"ocr":{"mode":"auto","languages":"eng","#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<RequestHeader>(&json).unwrap(),
            header
        );
        // A header without OCR settings (an older parent) gets the defaults.
        let old: RequestHeader =
            serde_json::from_str(r#"{"media_type":"text/plain","max_pages":3}"#).unwrap();
        assert_eq!(old.options.ocr, super::super::OcrSettings::default());
        for m in [
            MediaType::Pdf,
            MediaType::PlainText,
            MediaType::Markdown,
            MediaType::Html,
        ] {
            assert_eq!(parse_media_type(m.as_str()), Some(m));
        }
        assert_eq!(parse_media_type("image/gif"), None);
    }

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        write_frame(&mut buf, b"").unwrap();
        assert_eq!(&buf[..4], &5u32.to_le_bytes());
        let mut r = buf.as_slice();
        assert_eq!(read_frame(&mut r, 5).unwrap().unwrap(), b"hello");
        assert_eq!(read_frame(&mut r, 5).unwrap().unwrap(), b"");
        assert!(
            read_frame(&mut r, 5).unwrap().is_none(),
            "EOF between frames"
        );
    }

    #[test]
    fn oversized_frames_are_refused_before_allocating() {
        // A garbage length of 4 GiB - 1 with no body: refused on the length alone.
        let mut r: &[u8] = &u32::MAX.to_le_bytes();
        let err = read_frame(&mut r, MAX_HEADER_BYTES).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let mut buf = Vec::new();
        write_frame(&mut buf, b"123456").unwrap();
        let err = read_frame(&mut buf.as_slice(), 5).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        for cut in [1, 3, 4, 8] {
            let err = read_frame(&mut &buf[..cut], 100).unwrap_err();
            assert_eq!(
                err.kind(),
                io::ErrorKind::UnexpectedEof,
                "cut at {cut}: {err}"
            );
        }
    }
}
