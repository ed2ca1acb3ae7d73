//! One Tesseract engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::{OcrConfig, OcrInfo, load};
use crate::ffi::{Engine, Outcome, cstring};
use crate::{GrayImage, OcrError};

/// Tesseract's "Image too small to scan" bound: smaller images cannot hold a line of text.
const MIN_SIDE: u32 = 10;
/// Resolutions Tesseract believes (`kMinCredibleResolution`..`kMaxCredibleResolution`);
/// outside them it would warn and estimate anyway.
const CREDIBLE_PPI: std::ops::RangeInclusive<u32> = 70..=2400;

/// What Tesseract read from one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    /// UTF-8 text, trimmed; lines kept, paragraphs separated by blank lines as Tesseract
    /// gives them. Empty when the image holds no text.
    pub text: String,
    /// Tesseract's mean word confidence, 0..=100 (0 for no text).
    pub mean_confidence: u8,
}

/// One Tesseract engine with its languages loaded (Init takes ~0.1-0.5 s, so keep it for
/// many pages). Not thread-safe: one per thread or process (`Send`, not `Sync`).
///
/// Threads: Debian's libtesseract uses OpenMP; start the process that runs OCR with
/// [`crate::RECOMMENDED_ENV`] (`OMP_THREAD_LIMIT=1`) so that N worker processes use N cores.
pub struct Ocr {
    engine: Engine,
    info: OcrInfo,
}

impl std::fmt::Debug for Ocr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ocr")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Ocr {
    /// [`crate::check`], then `TessBaseAPICreate` + `TessBaseAPIInit3(tessdata, languages)`.
    pub fn new(config: &OcrConfig) -> Result<Ocr, OcrError> {
        let (lib, info) = load(config)?;
        let datapath =
            cstring(&info.tessdata_dir.to_string_lossy()).map_err(OcrError::Unavailable)?;
        let languages = cstring(&config.languages)
            .map_err(|_| OcrError::InvalidLanguages(config.languages.clone()))?;
        let engine = Engine::new(Arc::new(lib), &datapath, &languages).map_err(|e| {
            OcrError::Unavailable(format!(
                "Tesseract {} could not load {:?} from {} ({e}): reinstall `tesseract-ocr` and \
                 the language packages ({})",
                info.version,
                config.languages,
                info.tessdata_dir.display(),
                info.languages
                    .iter()
                    .map(|l| crate::debian_package(l))
                    .collect::<Vec<_>>()
                    .join(", "),
            ))
        })?;
        Ok(Ocr { engine, info })
    }

    /// What the engine was started with.
    pub fn info(&self) -> &OcrInfo {
        &self.info
    }

    /// Recognises one gray image. `ppi`: the resolution it was scanned or rendered at; 0 =
    /// unknown: the image's own `ppi` if any, else Tesseract estimates it from the text height.
    /// `deadline`: Tesseract's monitor stops recognition past it ([`OcrError::Timeout`]);
    /// `Duration::ZERO` = none. The deadline covers word recognition, the bulk of the time;
    /// page layout analysis before it is not interruptible (tens of ms to ~1 s on big pages).
    pub fn recognize(
        &mut self,
        image: &GrayImage,
        ppi: u32,
        deadline: Duration,
    ) -> Result<Recognized, OcrError> {
        let (w, h) = (image.width, image.height);
        if image.pixels.len() as u64 != u64::from(w) * u64::from(h) {
            return Err(OcrError::Failed(format!(
                "gray image of {w}x{h} has {} bytes, not {}",
                image.pixels.len(),
                u64::from(w) * u64::from(h)
            )));
        }
        if w < MIN_SIDE || h < MIN_SIDE {
            return Ok(Recognized {
                text: String::new(),
                mean_confidence: 0,
            });
        }
        let (Ok(wi), Ok(hi)) = (i32::try_from(w), i32::try_from(h)) else {
            return Err(OcrError::Failed(format!(
                "image of {w}x{h} is too big for Tesseract"
            )));
        };
        let ppi = Some(ppi)
            .filter(|p| *p > 0)
            .or(image.ppi)
            .filter(|p| CREDIBLE_PPI.contains(p))
            .unwrap_or(0);
        // At least 1 ms when a deadline is set: 0 would mean "none" to the monitor.
        let deadline_ms = if deadline.is_zero() {
            0
        } else {
            i32::try_from(deadline.as_millis())
                .unwrap_or(i32::MAX)
                .max(1)
        };
        let started = Instant::now();
        match self
            .engine
            .recognize(&image.pixels, wi, hi, ppi as i32, deadline_ms)
        {
            Outcome::Text(text, conf) => Ok(Recognized {
                text: text.trim().to_owned(),
                mean_confidence: conf.clamp(0, 100) as u8,
            }),
            // Recognize reports a passed deadline as -1 like any failure; the clock tells them
            // apart.
            Outcome::Error(_) if deadline_ms > 0 && started.elapsed() >= deadline => {
                Err(OcrError::Timeout {
                    secs: deadline.as_secs_f64(),
                })
            }
            Outcome::Error(rc) => Err(OcrError::Failed(format!(
                "Tesseract could not recognise a {w}x{h} image (TessBaseAPIRecognize returned {rc})"
            ))),
        }
    }
}
