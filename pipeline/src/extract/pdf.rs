//! PDF text extraction through PDFium, page by page.
//!
//! PDFium is not thread-safe, even across documents: pdfium-render's `thread_safe` feature puts
//! every call behind one process-wide mutex, and the library can be bound only once per
//! process. [`PdfExtractor::new`] therefore binds on first use and hands later callers the same
//! instance.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use docfleet_ocr::GrayImage;
use pdfium_render::prelude::{PdfPage, PdfRenderConfig, Pdfium, PdfiumError, PdfiumInternalError};

use super::ocr::{OcrEngine, OcrMode, OcrSettings, needs_ocr};
use super::text::normalize;
use crate::{Error, Page, Result};

/// The process's one PDFium binding and the library path it came from.
static BOUND: Mutex<Option<(PathBuf, Arc<Pdfium>)>> = Mutex::new(None);

/// One document at a time per process: PDFium's last-error code is process-wide, so a load
/// failing on one thread while another thread calls PDFium could be misreported (an encrypted
/// PDF seen as corrupt). Extractor child processes each have their own PDFium and run in
/// parallel; only in-process extraction (`extract_processes = 0`) is serialised by this.
static ONE_DOCUMENT_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Extracts the text layer of PDFs, one [`Page`] per PDF page.
#[derive(Debug, Clone)]
pub struct PdfExtractor {
    pdfium: Arc<Pdfium>,
    lib_path: PathBuf,
}

impl PdfExtractor {
    /// Binds libpdfium at `lib_path` (once per process: later calls with the same path share the
    /// binding; another path is an error).
    pub fn new(lib_path: &Path) -> Result<Self> {
        if !lib_path.is_file() {
            return Err(Error::Pdfium(format!(
                "libpdfium not found at {}: run ./scripts/setup, or set DOCFLEET_PDFIUM_LIB to \
                 the library's path",
                lib_path.display()
            )));
        }
        let mut bound = BOUND
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((path, pdfium)) = bound.as_ref() {
            if path == lib_path {
                return Ok(Self {
                    pdfium: Arc::clone(pdfium),
                    lib_path: path.clone(),
                });
            }
            return Err(Error::Pdfium(format!(
                "libpdfium is already loaded from {} in this process; cannot also load {}",
                path.display(),
                lib_path.display()
            )));
        }
        let bindings = Pdfium::bind_to_library(lib_path).map_err(|e| bind_error(lib_path, e))?;
        let pdfium = Arc::new(Pdfium::new(bindings));
        *bound = Some((lib_path.to_owned(), Arc::clone(&pdfium)));
        Ok(Self {
            pdfium,
            lib_path: lib_path.to_owned(),
        })
    }

    /// The libpdfium this extractor is bound to.
    pub fn lib_path(&self) -> &Path {
        &self.lib_path
    }

    /// The text of every page, numbered from 1. Pages without text are kept (with empty text)
    /// so numbers match the viewer; a PDF with no text on any page is [`Error::NoText`].
    pub fn extract(&self, bytes: &[u8], max_pages: u64) -> Result<Vec<Page>> {
        self.extract_with_password(bytes, None, max_pages, None)
    }

    /// [`Self::extract`], with pages that have no text layer (all pages with
    /// [`OcrMode::Force`]) rendered and recognised by `ocr`. `on_page` is called after each
    /// recognised page (the extractor child's heartbeat).
    pub(super) fn extract_with_ocr(
        &self,
        bytes: &[u8],
        max_pages: u64,
        ocr: &mut PdfOcr<'_>,
    ) -> Result<Vec<Page>> {
        self.extract_with_password(bytes, None, max_pages, Some(ocr))
    }

    fn extract_with_password(
        &self,
        bytes: &[u8],
        password: Option<&str>,
        max_pages: u64,
        ocr: Option<&mut PdfOcr<'_>>,
    ) -> Result<Vec<Page>> {
        if bytes.is_empty() {
            return Err(Error::EmptyFile);
        }
        let _serial = ONE_DOCUMENT_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let document = self
            .pdfium
            .load_pdf_from_byte_slice(bytes, password)
            .map_err(load_error)?;
        let pages = document.pages();
        let count = u64::try_from(pages.len()).unwrap_or(0);
        if count > max_pages {
            return Err(Error::TooManyPages {
                pages: count,
                limit: max_pages,
            });
        }
        if count == 0 {
            return Err(Error::CorruptPdf("the PDF has no pages".to_owned()));
        }
        let mut out = Vec::with_capacity(pages.len() as usize);
        for (index, page) in pages.iter().enumerate() {
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            out.push(Page::new(number, page_text(&page, number)?));
        }
        if out.len() as u64 != count {
            return Err(Error::CorruptPdf(format!(
                "only {} of {count} pages could be loaded",
                out.len()
            )));
        }
        let mode = ocr.as_ref().map_or(OcrMode::Off, |o| o.settings.mode);
        let scanned: Vec<bool> = out.iter().map(|p| needs_ocr(&p.text, mode)).collect();
        let to_ocr = scanned.iter().filter(|&&s| s).count();
        if let Some(ocr) = ocr
            && to_ocr > 0
        {
            ocr.settings.check_pages(to_ocr as u64)?;
            for (i, page) in pages.iter().enumerate().filter(|(i, _)| scanned[*i]) {
                let (image, ppi) = render_gray(&page, ocr.settings, out[i].number)?;
                let found = ocr.engine.recognize(ocr.settings, &image, ppi)?;
                (ocr.on_page)();
                // Forced OCR keeps a text layer that OCR could not read at all.
                if !found.text.trim().is_empty() || out[i].text.trim().is_empty() {
                    out[i].text = found.text;
                    out[i].ocr_confidence = Some(found.confidence);
                }
            }
        }
        if out.iter().all(|page| page.text.trim().is_empty()) {
            return Err(Error::NoText(if mode == OcrMode::Off {
                format!(
                    "no text layer on any of {count} pages: scanned PDFs need OCR, which is off \
                     (--ocr off)"
                )
            } else {
                format!("no text layer on any of {count} pages, and OCR found no text either")
            }));
        }
        Ok(out)
    }
}

/// What PDF extraction needs for OCR: the engine, the job's settings, the heartbeat.
pub(super) struct PdfOcr<'a> {
    pub engine: &'a OcrEngine,
    pub settings: &'a OcrSettings,
    pub on_page: &'a mut dyn FnMut(),
}

/// A page's text layer, with paragraphs marked.
fn page_text(page: &PdfPage<'_>, number: u32) -> Result<String> {
    let text_page = page
        .text()
        .map_err(|e| Error::CorruptPdf(format!("page {number}: no text page ({e:?})")))?;
    let text = text_page.all();
    let lines: Vec<LineBox> = text_page
        .segments()
        .iter()
        .map(|segment| {
            let bounds = segment.bounds();
            LineBox {
                bottom: bounds.bottom().value,
                height: bounds.height().value,
            }
        })
        .collect();
    Ok(normalize(&mark_paragraphs(&text, &lines)))
}

/// Renders a page in gray at the OCR resolution, scaled down to stay within `max_pixels`;
/// returns the image and the resolution it ended up at.
fn render_gray(
    page: &PdfPage<'_>,
    settings: &OcrSettings,
    number: u32,
) -> Result<(GrayImage, u32)> {
    let (w_pt, h_pt) = (page.width().value, page.height().value);
    if !(w_pt > 0.0 && h_pt > 0.0) {
        return Err(Error::CorruptPdf(format!(
            "page {number} has no size ({w_pt} x {h_pt} points)"
        )));
    }
    let mut scale = settings.dpi.max(1) as f32 / 72.0;
    let pixels = f64::from(w_pt * scale) * f64::from(h_pt * scale);
    if pixels > settings.max_pixels as f64 {
        scale *= (settings.max_pixels as f64 / pixels).sqrt() as f32;
    }
    let config = PdfRenderConfig::new()
        .scale_page_by_factor(scale)
        .render_form_data(true);
    let bitmap = page
        .render_with_config(&config)
        .map_err(|e| Error::CorruptPdf(format!("page {number} could not be rendered ({e:?})")))?;
    let (width, height) = (bitmap.width() as u32, bitmap.height() as u32);
    let rgba = bitmap.as_rgba_bytes();
    let image = GrayImage::from_rgba(width, height, width as usize * 4, &rgba);
    Ok((image, (scale * 72.0).round() as u32))
}

/// Where a run of text sits on the page (PDF points, y grows upwards).
#[derive(Debug, Clone, Copy)]
struct LineBox {
    bottom: f32,
    height: f32,
}

/// A line gap this many times the page's usual line spacing starts a new paragraph.
const PARAGRAPH_GAP: f32 = 1.6;

/// PDFium's text has one line per text line but no blank lines between paragraphs. When the
/// text's rectangles line up one-to-one with its lines, inserts a blank line wherever the gap
/// to the previous line is well above the usual line spacing; otherwise returns `text` as is.
fn mark_paragraphs(text: &str, boxes: &[LineBox]) -> String {
    // Rectangles on the same baseline are one line.
    let mut lines: Vec<LineBox> = Vec::new();
    for b in boxes {
        match lines.last_mut() {
            Some(last) if (last.bottom - b.bottom).abs() < 0.5 * last.height.max(b.height) => {
                last.height = last.height.max(b.height);
            }
            _ => lines.push(*b),
        }
    }
    let text_lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 3 || lines.len() != text_lines.len() {
        return text.to_owned();
    }
    let gaps: Vec<f32> = lines
        .windows(2)
        .map(|w| w[0].bottom - w[1].bottom)
        .collect();
    let mut sorted: Vec<f32> = gaps.iter().copied().filter(|g| *g > 0.0).collect();
    sorted.sort_by(f32::total_cmp);
    let Some(&usual) = sorted.get(sorted.len() / 2) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text_lines.iter().enumerate() {
        if i > 0 {
            out.push_str(if gaps[i - 1] > PARAGRAPH_GAP * usual {
                "\n\n"
            } else {
                "\n"
            });
        }
        out.push_str(line);
    }
    out
}

fn bind_error(lib_path: &Path, e: PdfiumError) -> Error {
    let why = match e {
        PdfiumError::LoadLibraryFunctionNameError(name) => format!(
            "it lacks the function {name}: the library is older than the PDFium API this build \
             of docfleet expects (pdfium-render feature); install the version ./scripts/setup \
             installs"
        ),
        PdfiumError::LoadLibraryError(e) => format!("it could not be loaded: {e}"),
        other => format!("{other:?}"),
    };
    Error::Pdfium(format!(
        "cannot bind libpdfium at {}: {why}",
        lib_path.display()
    ))
}

fn load_error(e: PdfiumError) -> Error {
    match e {
        PdfiumError::PdfiumLibraryInternalError(internal) => match internal {
            PdfiumInternalError::PasswordError | PdfiumInternalError::SecurityError => {
                Error::Encrypted
            }
            PdfiumInternalError::FormatError => Error::CorruptPdf(
                "the file is damaged or not in PDF format (PDFium format error)".to_owned(),
            ),
            PdfiumInternalError::FileError => {
                Error::CorruptPdf("the file could not be read (PDFium file error)".to_owned())
            }
            PdfiumInternalError::PageError => {
                Error::CorruptPdf("a page could not be read (PDFium page error)".to_owned())
            }
            PdfiumInternalError::Unknown => {
                Error::CorruptPdf("PDFium could not open it (unknown error)".to_owned())
            }
        },
        other => Error::Pdfium(format!("opening the PDF: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(bottoms: &[f32]) -> Vec<LineBox> {
        bottoms
            .iter()
            .map(|&bottom| LineBox {
                bottom,
                height: 10.0,
            })
            .collect()
    }

    #[test]
    fn paragraphs_come_from_line_gaps() {
        let text = "one\r\ntwo\r\nthree\r\nfour";
        let marked = mark_paragraphs(text, &boxes(&[700.0, 686.0, 658.0, 644.0]));
        assert_eq!(marked, "one\ntwo\n\nthree\nfour");
        // Two rectangles on one baseline are one line.
        let mut split = boxes(&[700.0, 686.0, 686.5, 658.0, 644.0]);
        split[2].height = 9.0;
        assert_eq!(mark_paragraphs(text, &split), "one\ntwo\n\nthree\nfour");
        // When rectangles and lines do not match, the text is left alone.
        assert_eq!(mark_paragraphs(text, &boxes(&[700.0, 686.0, 658.0])), text);
        assert_eq!(mark_paragraphs(text, &[]), text);
    }
    use crate::extract::tests::{fixture, pdf_extractor};

    #[test]
    fn encrypted_fixture_opens_with_its_user_password() {
        let bytes = fixture("bad/encrypted.pdf");
        let pages = pdf_extractor().extract_with_password(&bytes, Some("docfleet-user"), 10, None);
        let pages = pages.unwrap();
        assert_eq!(pages.len(), 1);
        assert!(
            pages[0].text.starts_with("This document is encrypted"),
            "{:?}",
            pages[0].text
        );
        let wrong = pdf_extractor().extract_with_password(&bytes, Some("guess"), 10, None);
        assert!(matches!(wrong, Err(Error::Encrypted)));
    }

    #[test]
    fn binding_is_shared_and_missing_library_is_explained() {
        let again = PdfExtractor::new(pdf_extractor().lib_path()).unwrap();
        assert_eq!(again.lib_path(), pdf_extractor().lib_path());
        let err = PdfExtractor::new(Path::new("/nonexistent/libpdfium.so")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Pdfium(_)));
        assert!(
            msg.contains("/nonexistent/libpdfium.so") && msg.contains("./scripts/setup"),
            "{msg}"
        );
    }
}
