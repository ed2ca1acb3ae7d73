//! The pipeline's error type. Permanent errors are about the document (bad input) and fail its
//! job at once; retryable ones are about the machine (I/O, a store or index that went away).
//!
//! The index and store errors keep their cause as [`std::error::Error::source`] and do not repeat
//! it in their own text, so chains (`anyhow`'s `{:#}`) show it once; [`Error::report`] is the
//! whole message, cause included, for job rows and `FAILED` lines.

use std::fmt;

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The underlying error an [`Error`] was caused by.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("unsupported media type {media_type}")]
    UnsupportedMediaType { media_type: String },
    #[error("file is {size_bytes} bytes, over the limit of {limit_bytes} bytes (max_file_bytes)")]
    TooLarge { size_bytes: u64, limit_bytes: u64 },
    #[error("document has {pages} pages, over the limit of {limit} (max_pages)")]
    TooManyPages { pages: u64, limit: u64 },
    #[error("empty file (0 bytes)")]
    EmptyFile,
    #[error("PDF is encrypted and no password was given")]
    Encrypted,
    #[error("corrupt or unreadable PDF: {0}")]
    CorruptPdf(String),
    #[error("no extractable text ({0})")]
    NoText(String),
    /// An Office, OpenDocument, EPUB, RTF or e-mail file that cannot be read (corrupt, encrypted,
    /// a zip bomb, XML entity tricks); the message names the format and the cause.
    #[error("{0}")]
    Document(String),
    /// Recognition failed or was refused (OCR off, Tesseract missing, a page over a limit).
    #[error("OCR: {0}")]
    Ocr(String),
    #[error("text is not valid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    #[error("PDFium: {0}")]
    Pdfium(String),
    /// The extractor child process ran past its deadline and was killed.
    #[error("extraction took longer than {secs} s (extract_timeout_secs)")]
    ExtractTimeout { secs: u64 },
    /// The extractor child process died (signal, exit) or broke the protocol before answering.
    /// Permanent: the same bytes would crash it again.
    #[error("{0}")]
    ExtractorCrashed(String),
    /// The job's source does not exist (or is not a file).
    #[error("source not found: {0}")]
    SourceNotFound(String),
    #[error("chunking: {0}")]
    Chunking(String),
    #[error("embedding model: {0}")]
    Model(#[from] docfleet_models::Error),
    #[error("embed lane: {0}")]
    EmbedLane(String),
    /// The embedded index is locked by another process (one writer, or readers while none writes).
    #[error("index at {dir} is in use by another docfleet process")]
    IndexInUse { dir: String },
    /// `message` says what failed; the cause, if any, is the source.
    #[error("vector index: {message}")]
    Index {
        message: String,
        #[source]
        source: Option<Cause>,
        retryable: bool,
    },
    /// `message` says what failed; the cause, if any, is the source.
    #[error("object store: {message}")]
    Store {
        message: String,
        #[source]
        source: Option<Cause>,
        retryable: bool,
    },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The tenant's profile cannot be applied: an unknown model, a refused source (permanent);
    /// the profile unreadable, the model memory budget full for now (retryable).
    #[error("tenant profile: {message}")]
    Profile { message: String, retryable: bool },
}

impl Error {
    /// Whether trying the same job again later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            // The lane fails whole batches for reasons outside the document (e.g. memory).
            Error::Io(_) | Error::EmbedLane(_) => true,
            Error::Index { retryable, .. }
            | Error::Store { retryable, .. }
            | Error::Profile { retryable, .. } => *retryable,
            Error::Model(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// An index error whose message says it all.
    pub fn index(message: impl Into<String>, retryable: bool) -> Self {
        Error::Index {
            message: message.into(),
            source: None,
            retryable,
        }
    }

    /// An index error caused by `cause`: `context` says what failed ("Qdrant upsert").
    pub fn index_caused_by(
        context: impl Into<String>,
        cause: impl Into<Cause>,
        retryable: bool,
    ) -> Self {
        Error::Index {
            message: context.into(),
            source: Some(cause.into()),
            retryable,
        }
    }

    pub fn profile(message: impl Into<String>, retryable: bool) -> Self {
        Error::Profile {
            message: message.into(),
            retryable,
        }
    }

    /// A store error whose message says it all.
    pub fn store(message: impl Into<String>, retryable: bool) -> Self {
        Error::Store {
            message: message.into(),
            source: None,
            retryable,
        }
    }

    /// A store error caused by `cause`: `context` says what failed ("serialise chunk").
    pub fn store_caused_by(
        context: impl Into<String>,
        cause: impl Into<Cause>,
        retryable: bool,
    ) -> Self {
        Error::Store {
            message: context.into(),
            source: Some(cause.into()),
            retryable,
        }
    }

    /// The whole message, causes included: what job rows, `FAILED` lines and logs show.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// An error and its chain of causes on one line, joined by ": " (as `anyhow`'s `{:#}`). A cause
/// whose text its error already ends with (`I/O: {0}`-style messages) is not repeated.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn bad_documents_are_permanent_and_io_is_transient() {
        assert!(!Error::Encrypted.is_retryable());
        assert!(!Error::CorruptPdf("x".into()).is_retryable());
        assert!(
            !Error::TooLarge {
                size_bytes: 2,
                limit_bytes: 1
            }
            .is_retryable()
        );
        assert!(!Error::ExtractTimeout { secs: 1 }.is_retryable());
        assert!(!Error::ExtractorCrashed("signal 11".into()).is_retryable());
        assert!(Error::Io(std::io::Error::other("disk")).is_retryable());
        assert!(Error::index("down", true).is_retryable());
    }

    #[test]
    fn a_cause_shows_once_in_the_report_and_in_chains() {
        let e = Error::store_caused_by("writer task failed", io::Error::other("disk full"), true);
        assert_eq!(e.to_string(), "object store: writer task failed");
        assert_eq!(
            e.report().to_string(),
            "object store: writer task failed: disk full"
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));
        // Variants that print their cause themselves are not doubled.
        let io = Error::Io(io::Error::other("disk full"));
        assert_eq!(io.report().to_string(), "I/O: disk full");
        assert_eq!(
            Error::index("down", true).report().to_string(),
            "vector index: down"
        );
    }
}
