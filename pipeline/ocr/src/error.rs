//! The one error type of the crate.

use std::path::PathBuf;

/// Why OCR could not run or produced nothing. Every variant is about the document or the
/// installation, so none is worth retrying ([`OcrError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The library is missing, is the wrong version, or failed to initialise; the message says
    /// what to install.
    #[error("{0}")]
    Unavailable(String),
    /// `<language>.traineddata` is not in the tessdata directory.
    #[error(
        "Tesseract language data {language}.traineddata not found in {}: install `{package}` \
         (Debian/Ubuntu) or put {language}.traineddata there",
        tessdata_dir.display()
    )]
    MissingLanguage {
        /// The language code as configured, e.g. "deu".
        language: String,
        /// The directory searched.
        tessdata_dir: PathBuf,
        /// The Debian/Ubuntu package that provides it, e.g. "tesseract-ocr-deu".
        package: String,
    },
    /// The language list is not Tesseract syntax (`eng`, `eng+deu`, `chi_sim`).
    #[error(
        "invalid OCR languages {0:?}: expected Tesseract codes joined by '+', e.g. \"eng\" or \"eng+deu\""
    )]
    InvalidLanguages(String),
    /// The image (or one page of it) has more pixels than allowed; refused from its header.
    #[error(
        "image is {width}x{height} = {} pixels, over the limit of {limit} (ocr_max_pixels)",
        *width as u64 * *height as u64
    )]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The configured limit (`ImageLimits::max_pixels`).
        limit: u64,
    },
    /// A multi-page image has more pages than allowed.
    #[error("image has {frames} pages, over the limit of {limit} (ocr_max_frames)")]
    TooManyFrames {
        /// Pages counted.
        frames: u64,
        /// The configured limit (`ImageLimits::max_frames`).
        limit: u64,
    },
    /// The file could not be decoded.
    #[error("corrupt {format} image: {message}")]
    CorruptImage {
        /// "PNG", "JPEG", "TIFF", "BMP" or "WebP".
        format: &'static str,
        /// The decoder's reason.
        message: String,
    },
    /// Recognising one page took longer than the deadline.
    #[error("OCR of one page took longer than {secs} s (ocr_page_timeout_secs)")]
    Timeout {
        /// The deadline, in seconds.
        secs: f64,
    },
    /// Tesseract returned an error code.
    #[error("OCR failed: {0}")]
    Failed(String),
}

impl OcrError {
    /// Always false: a second try of the same document on the same install fails the same way
    /// (a timeout too: the page is as big or as dense the next time).
    pub fn is_retryable(&self) -> bool {
        false
    }
}
