//! docfleet's OCR: Tesseract 5 through its C API, loaded at run time, over gray images that
//! come from image files ([`decode_image`]) or rendered PDF pages ([`GrayImage::from_bgra`]).
//!
//! Why at run time (`dlopen`): the worker binary must start and serve text-only workloads on
//! machines without Tesseract, and tell the operator what to install ([`check`]) when OCR is
//! switched on. Tesseract is not thread-safe per engine: keep one [`Ocr`] per process (the
//! extractor child) and start that process with [`RECOMMENDED_ENV`].
//!
//! ```no_run
//! use std::time::Duration;
//! use docfleet_ocr::{ImageFormat, ImageLimits, Ocr, OcrConfig, decode_image};
//! # fn main() -> Result<(), docfleet_ocr::OcrError> {
//! let bytes = std::fs::read("scan.png").expect("read");
//! let format = ImageFormat::detect(&bytes).expect("an image");
//! let mut ocr = Ocr::new(&OcrConfig::default())?;
//! for page in decode_image(&bytes, format, &ImageLimits::default())? {
//!     let r = ocr.recognize(&page, 0, Duration::from_secs(60))?;
//!     println!("{} ({}%)", r.text, r.mean_confidence);
//! }
//! # Ok(()) }
//! ```

mod cer;
mod check;
mod engine;
mod error;
mod ffi;
mod image;

pub use cer::char_error_rate;
pub use check::{
    DEFAULT_LIB_NAMES, DEFAULT_TESSDATA_DIRS, OcrConfig, OcrInfo, RECOMMENDED_ENV, check,
    debian_package,
};
pub use engine::{Ocr, Recognized};
pub use error::OcrError;
pub use image::{GrayImage, ImageFormat, ImageLimits, decode_image, decode_image_frames};
