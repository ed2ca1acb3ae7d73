//! OCR in the extract lane: image files, and PDF pages without a text layer, through Tesseract
//! (`docfleet-ocr`). It runs where extraction runs, in the extractor child processes, so a
//! hostile image or a slow page fails one document, and several pages are recognised in
//! parallel across children.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use docfleet_ocr::{GrayImage, ImageFormat, ImageLimits, Ocr, OcrConfig, OcrError};
use serde::{Deserialize, Serialize};

use super::text::normalize;
use crate::{Error, Page, Result};

/// When pages are recognised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    /// Never: image files and scanned PDFs fail with [`Error::NoText`]/[`Error::Ocr`].
    Off,
    /// Image files, and PDF pages with (almost) no text layer.
    #[default]
    Auto,
    /// Every page, even where PDFium finds text (bad text layers from old scanners).
    Force,
}

impl OcrMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OcrMode::Off => "off",
            OcrMode::Auto => "auto",
            OcrMode::Force => "force",
        }
    }
}

/// How pages are recognised: sent with every extraction request, so it can differ per job.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct OcrSettings {
    pub mode: OcrMode,
    /// Tesseract languages, `eng` or `eng+deu`.
    pub languages: String,
    /// Resolution PDF pages are rendered at for recognition.
    pub dpi: u32,
    /// Pixels of one page or image; a rendered PDF page is scaled down to fit, an image file
    /// over it fails.
    pub max_pixels: u64,
    /// Tesseract's deadline for one page.
    pub page_timeout_secs: u64,
    /// Pages of one document that may need OCR.
    pub max_pages: u64,
}

impl Default for OcrSettings {
    fn default() -> Self {
        Self {
            mode: OcrMode::Auto,
            languages: "eng".to_owned(),
            dpi: 300,
            max_pixels: 40_000_000,
            page_timeout_secs: 60,
            max_pages: 1000,
        }
    }
}

impl OcrSettings {
    /// What changes OCR output, for the pipeline version: the mode, the languages and the DPI
    /// (limits only decide whether a page fails).
    pub fn version_tag(&self) -> String {
        match self.mode {
            OcrMode::Off => "ocr-off".to_owned(),
            mode => format!("ocr-{}-{}-{}dpi", mode.as_str(), self.languages, self.dpi),
        }
    }

    /// Counts pages before OCR starts, so a long scan fails at once rather than after hours.
    pub(super) fn check_pages(&self, pages: u64) -> Result<()> {
        if pages > self.max_pages {
            return Err(self.too_many_pages(pages));
        }
        Ok(())
    }

    fn too_many_pages(&self, pages: u64) -> Error {
        Error::Ocr(format!(
            "{pages} pages need OCR, over the limit of {} (ocr_max_pages)",
            self.max_pages
        ))
    }
}

/// A page with fewer non-whitespace characters than this has no usable text layer: a scan
/// (perhaps with a stamped page number). Real text pages hold hundreds.
pub const MIN_TEXT_LAYER_CHARS: usize = 32;

/// Whether a PDF page whose text layer is `text` is recognised instead.
pub fn needs_ocr(text: &str, mode: OcrMode) -> bool {
    match mode {
        OcrMode::Off => false,
        OcrMode::Force => true,
        OcrMode::Auto => text.chars().filter(|c| !c.is_whitespace()).count() < MIN_TEXT_LAYER_CHARS,
    }
}

/// Where Tesseract is installed: the process's, not the job's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OcrInstall {
    pub lib_path: Option<PathBuf>,
    pub tessdata_dir: Option<PathBuf>,
}

impl OcrInstall {
    pub fn config(&self, languages: &str) -> OcrConfig {
        OcrConfig {
            languages: languages.to_owned(),
            tessdata_dir: self.tessdata_dir.clone(),
            lib_path: self.lib_path.clone(),
        }
    }

    /// The start-up check: Tesseract loads and has every language (no engine is started).
    pub fn check(&self, settings: &OcrSettings) -> Result<Option<docfleet_ocr::OcrInfo>> {
        if settings.mode == OcrMode::Off {
            return Ok(None);
        }
        docfleet_ocr::check(&self.config(&settings.languages))
            .map(Some)
            .map_err(|e| Error::Ocr(format!("{e}; or pass --ocr off")))
    }
}

/// One Tesseract engine per process, started on first use and kept while the languages stay
/// the same (starting one reads the traineddata: ~0.1-0.5 s).
#[derive(Debug, Default)]
pub(super) struct OcrEngine {
    install: OcrInstall,
    engine: Mutex<Option<(String, EngineBox)>>,
}

/// `Ocr` holds a C handle; only this module's mutex reaches it.
struct EngineBox(Ocr);

impl std::fmt::Debug for EngineBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ocr")
    }
}

/// One recognised image or page.
pub(super) struct Recognized {
    pub text: String,
    pub confidence: u8,
}

impl OcrEngine {
    pub(super) fn new(install: OcrInstall) -> Self {
        Self {
            install,
            engine: Mutex::new(None),
        }
    }

    pub(super) fn recognize(
        &self,
        settings: &OcrSettings,
        image: &GrayImage,
        ppi: u32,
    ) -> Result<Recognized> {
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_none_or(|(languages, _)| *languages != settings.languages)
        {
            *slot = None; // end the old engine before starting another
            let ocr = Ocr::new(&self.install.config(&settings.languages)).map_err(ocr_error)?;
            *slot = Some((settings.languages.clone(), EngineBox(ocr)));
        }
        let Some((_, EngineBox(ocr))) = slot.as_mut() else {
            unreachable!("set just above");
        };
        let deadline = Duration::from_secs(settings.page_timeout_secs.max(1));
        let out = ocr.recognize(image, ppi, deadline).map_err(ocr_error)?;
        Ok(Recognized {
            text: normalize(&out.text),
            confidence: out.mean_confidence,
        })
    }

    /// An image file as pages: one per frame (multi-page TIFF), each decoded and recognised in
    /// turn (one frame in memory at a time).
    pub(super) fn extract_image(
        &self,
        bytes: &[u8],
        format: ImageFormat,
        settings: &OcrSettings,
        max_pages: u64,
        on_page: &mut dyn FnMut(),
    ) -> Result<Vec<Page>> {
        if settings.mode == OcrMode::Off {
            return Err(Error::Ocr(format!(
                "{} images need OCR, which is off (--ocr off)",
                format.mime()
            )));
        }
        // Every frame needs OCR: the tighter of the two page limits is checked, from the
        // file's directory, before any frame is decoded.
        let limits = ImageLimits {
            max_pixels: settings.max_pixels,
            max_frames: max_pages.min(settings.max_pages),
        };
        let mut pages = Vec::new();
        let mut failed = None;
        let decoded = docfleet_ocr::decode_image_frames(bytes, format, &limits, |_, frame| {
            let number = u32::try_from(pages.len() + 1).unwrap_or(u32::MAX);
            match self.recognize(settings, &frame, frame.ppi.unwrap_or(0)) {
                Ok(found) => {
                    on_page();
                    pages.push(Page {
                        number,
                        text: found.text,
                        label: None,
                        ocr_confidence: Some(found.confidence),
                    });
                    Ok(())
                }
                Err(e) => {
                    failed = Some(e);
                    Err(OcrError::Failed("stopped".to_owned()))
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        match decoded {
            Ok(_) => {}
            // Within max_pages: it was ocr_max_pages that refused it.
            Err(OcrError::TooManyFrames { frames, .. }) if frames <= max_pages => {
                return Err(settings.too_many_pages(frames));
            }
            Err(e) => return Err(ocr_error(e)),
        }
        if pages.iter().all(|p| p.text.trim().is_empty()) {
            return Err(Error::NoText(format!(
                "OCR found no text in the {} image",
                format.mime()
            )));
        }
        Ok(pages)
    }
}

/// Every OCR error is about the document or the install; the few with a pipeline meaning keep it.
pub(super) fn ocr_error(e: OcrError) -> Error {
    match e {
        OcrError::TooManyFrames { frames, limit } => Error::TooManyPages {
            pages: frames,
            limit,
        },
        other => Error::Ocr(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_needs_ocr_when_its_text_layer_is_nearly_empty() {
        assert!(needs_ocr("", OcrMode::Auto));
        assert!(needs_ocr("  12 \n", OcrMode::Auto));
        let body = "The escapement releases the gear train one tooth at a time.";
        assert!(!needs_ocr(body, OcrMode::Auto));
        assert!(needs_ocr(body, OcrMode::Force));
        assert!(!needs_ocr("", OcrMode::Off));
    }

    #[test]
    fn version_tag_covers_what_changes_the_text() {
        let auto = OcrSettings::default();
        assert_eq!(auto.version_tag(), "ocr-auto-eng-300dpi");
        let deu = OcrSettings {
            languages: "eng+deu".into(),
            ..OcrSettings::default()
        };
        assert_ne!(deu.version_tag(), auto.version_tag());
        let off = OcrSettings {
            mode: OcrMode::Off,
            ..OcrSettings::default()
        };
        assert_eq!(off.version_tag(), "ocr-off");
        let looser = OcrSettings {
            page_timeout_secs: 5,
            ..OcrSettings::default()
        };
        assert_eq!(looser.version_tag(), auto.version_tag());
    }

    #[test]
    fn too_many_ocr_pages_is_a_clear_error() {
        let settings = OcrSettings {
            max_pages: 2,
            ..OcrSettings::default()
        };
        let err = settings.check_pages(3).unwrap_err();
        assert!(err.to_string().contains("ocr_max_pages"), "{err}");
        assert!(!err.is_retryable());
    }
}
