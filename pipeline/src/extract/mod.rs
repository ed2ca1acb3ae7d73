//! The extract lane: bytes and a media type in, pages of text out.
//!
//! [`sniff`] decides what a file is from its bytes (the name is only a hint), and
//! [`DocumentExtractor`] turns it into [`Page`]s: PDFs page by page through PDFium (pages
//! without a text layer through OCR, [`ocr`]), image files through OCR, Office, OpenDocument,
//! EPUB, RTF and e-mail through `docfleet-formats` ([`office`]), plain text, Markdown and HTML
//! as one page each. Every failure about the document itself is a permanent [`Error`] (see
//! [`Error::is_retryable`]).
//!
//! [`ProcessPoolExtractor`] runs extraction in child processes that serve the [`wire`] protocol
//! ([`serve_extraction`]), so a document that crashes or hangs PDFium fails alone.

mod child_handle;
mod child_loop;
mod html;
mod ocr;
mod office;
mod pdf;
mod pool;
mod sniff;
mod text;
pub mod wire;

#[cfg(test)]
mod ocr_tests;
#[cfg(test)]
mod office_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Page, Result};

pub use child_handle::ExtractorCommand;
pub use child_loop::{ExtractFn, serve_extraction};
/// Environment for a process that runs Tesseract (its OpenMP to one thread).
pub use docfleet_ocr::RECOMMENDED_ENV as OCR_CHILD_ENV;
pub use ocr::{MIN_TEXT_LAYER_CHARS, OcrInstall, OcrMode, OcrSettings, needs_ocr};
pub use pdf::PdfExtractor;
pub use pool::ProcessPoolExtractor;
pub use sniff::{MediaType, sniff};

/// Turns a document's bytes into pages of text.
pub trait Extractor: Send + Sync {
    /// The extractor's own options: those of [`Self::extract`].
    fn options(&self) -> &ExtractOptions;

    /// With the extractor's own options.
    fn extract(&self, bytes: &[u8], media_type: MediaType) -> Result<Vec<Page>> {
        self.extract_with_options(bytes, media_type, self.options())
    }

    /// With a job's options (a tenant profile's OCR settings and page limit).
    fn extract_with_options(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        options: &ExtractOptions,
    ) -> Result<Vec<Page>>;
}

/// Limits and settings for one document's extraction: they travel with each request to an
/// extractor child, so they can differ per job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractOptions {
    /// Documents with more pages (PDF pages, slides, sheets, image frames) are refused with
    /// [`Error::TooManyPages`] before any text is read.
    pub max_pages: u64,
    #[serde(default)]
    pub ocr: OcrSettings,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            max_pages: 5000,
            ocr: OcrSettings::default(),
        }
    }
}

/// The [`Extractor`] for every supported [`MediaType`]: PDF (when libpdfium is available, with
/// OCR of pages that have no text layer), images (OCR), Office, OpenDocument, EPUB, RTF and
/// e-mail, plain text, Markdown and HTML.
#[derive(Debug)]
pub struct DocumentExtractor {
    pdf: Option<PdfExtractor>,
    ocr: ocr::OcrEngine,
    options: ExtractOptions,
}

impl DocumentExtractor {
    /// `pdf_lib` is the path of libpdfium; with `None` only non-PDF documents can be extracted
    /// and a PDF gives an [`Error::Pdfium`] that says so.
    pub fn new(pdf_lib: Option<&Path>, options: ExtractOptions) -> Result<Self> {
        let pdf = pdf_lib.map(PdfExtractor::new).transpose()?;
        Ok(Self {
            pdf,
            ocr: ocr::OcrEngine::default(),
            options,
        })
    }

    /// Builds one from an already bound [`PdfExtractor`].
    pub fn with_pdf(pdf: PdfExtractor, options: ExtractOptions) -> Self {
        Self {
            pdf: Some(pdf),
            ocr: ocr::OcrEngine::default(),
            options,
        }
    }

    /// Where Tesseract is (default: the system's library and tessdata).
    pub fn with_ocr_install(mut self, install: OcrInstall) -> Self {
        self.ocr = ocr::OcrEngine::new(install);
        self
    }

    /// Whether PDFs can be extracted (libpdfium was bound).
    pub fn supports_pdf(&self) -> bool {
        self.pdf.is_some()
    }

    /// [`Extractor::extract`] with other options (an extractor child takes them from each
    /// request); `on_page` is called after each page recognised by OCR, the slow step.
    pub fn extract_with(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        options: &ExtractOptions,
        on_page: &mut dyn FnMut(),
    ) -> Result<Vec<Page>> {
        if bytes.is_empty() {
            return Err(Error::EmptyFile);
        }
        match media_type {
            MediaType::Pdf => {
                let pdf = self.pdf.as_ref().ok_or_else(|| {
                    Error::Pdfium(
                        "PDF support needs libpdfium: run ./scripts/setup and pass its path \
                         (DOCFLEET_PDFIUM_LIB)"
                            .to_owned(),
                    )
                })?;
                let mut ocr = pdf::PdfOcr {
                    engine: &self.ocr,
                    settings: &options.ocr,
                    on_page,
                };
                pdf.extract_with_ocr(bytes, options.max_pages, &mut ocr)
            }
            MediaType::Image(format) => {
                self.ocr
                    .extract_image(bytes, format, &options.ocr, options.max_pages, on_page)
            }
            MediaType::Document(format) => office::extract(self, bytes, format, options, on_page),
            MediaType::PlainText | MediaType::Markdown => text::extract(bytes),
            MediaType::Html => html::extract(bytes),
        }
    }
}

impl Extractor for DocumentExtractor {
    fn options(&self) -> &ExtractOptions {
        &self.options
    }

    fn extract_with_options(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        options: &ExtractOptions,
    ) -> Result<Vec<Page>> {
        self.extract_with(bytes, media_type, options, &mut || {})
    }
}
