//! The extract lane: bytes and a media type in, pages of text out.
//!
//! [`sniff`] decides what a file is from its bytes (the name is only a hint), and
//! [`DocumentExtractor`] turns it into [`Page`]s: PDFs page by page through PDFium, plain text,
//! Markdown and HTML as one page each. Every failure about the document itself is a permanent
//! [`Error`] (see [`Error::is_retryable`]).
//!
//! [`ProcessPoolExtractor`] runs extraction in child processes that serve the [`wire`] protocol
//! ([`serve_extraction`]), so a document that crashes or hangs PDFium fails alone.

mod child;
mod child_process;
mod html;
mod pdf;
mod pool;
mod sniff;
mod text;
pub mod wire;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::{Error, Page, Result};

pub use child::{ExtractFn, serve_extraction};
pub use pdf::PdfExtractor;
pub use pool::{ExtractorCommand, ProcessPoolExtractor};
pub use sniff::{MediaType, sniff};

/// Turns a document's bytes into pages of text.
pub trait Extractor: Send + Sync {
    fn extract(&self, bytes: &[u8], media_type: MediaType) -> Result<Vec<Page>>;
}

/// Limits that protect the extract lane from oversized documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// PDFs with more pages are refused with [`Error::TooManyPages`] before any text is read.
    pub max_pages: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self { max_pages: 5000 }
    }
}

/// The [`Extractor`] for every supported [`MediaType`]: PDF (when libpdfium is available),
/// plain text, Markdown and HTML.
#[derive(Debug)]
pub struct DocumentExtractor {
    pdf: Option<PdfExtractor>,
    limits: ExtractLimits,
}

impl DocumentExtractor {
    /// `pdf_lib` is the path of libpdfium; with `None` only non-PDF documents can be extracted
    /// and a PDF gives an [`Error::Pdfium`] that says so.
    pub fn new(pdf_lib: Option<&Path>, limits: ExtractLimits) -> Result<Self> {
        let pdf = pdf_lib.map(PdfExtractor::new).transpose()?;
        Ok(Self { pdf, limits })
    }

    /// Builds one from an already bound [`PdfExtractor`].
    pub fn with_pdf(pdf: PdfExtractor, limits: ExtractLimits) -> Self {
        Self {
            pdf: Some(pdf),
            limits,
        }
    }

    pub fn limits(&self) -> ExtractLimits {
        self.limits
    }

    /// Whether PDFs can be extracted (libpdfium was bound).
    pub fn supports_pdf(&self) -> bool {
        self.pdf.is_some()
    }

    /// [`Extractor::extract`] with other limits: an extractor child takes them from each request.
    pub fn extract_with_limits(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        limits: ExtractLimits,
    ) -> Result<Vec<Page>> {
        if bytes.is_empty() {
            return Err(Error::EmptyFile);
        }
        match media_type {
            MediaType::Pdf => match &self.pdf {
                Some(pdf) => pdf.extract(bytes, limits.max_pages),
                None => Err(Error::Pdfium(
                    "PDF support needs libpdfium: run ./scripts/setup and pass its path \
                     (DOCFLEET_PDFIUM_LIB)"
                        .to_owned(),
                )),
            },
            MediaType::PlainText | MediaType::Markdown => text::extract(bytes),
            MediaType::Html => html::extract(bytes),
        }
    }
}

impl Extractor for DocumentExtractor {
    fn extract(&self, bytes: &[u8], media_type: MediaType) -> Result<Vec<Page>> {
        self.extract_with_limits(bytes, media_type, self.limits)
    }
}
