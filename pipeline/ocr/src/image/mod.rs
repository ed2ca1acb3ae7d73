//! Image files that are documents of their own (scans, photos, faxes), decoded into the 8-bit
//! gray frames Tesseract reads.
//!
//! Untrusted input: dimensions come from the header and are checked against
//! [`ImageLimits::max_pixels`] before any pixel buffer exists, so a 100 kB PNG claiming
//! 100000x100000 pixels is refused at once instead of allocating 10 GB. The `image`/`tiff`
//! decoders' own allocation limits are a second guard.

mod format;
mod resolution;
mod tiff_pages;

use std::io::Cursor;

pub use self::format::ImageFormat;
use self::resolution::{bmp_ppi, jfif_ppi, png_ppi};
use crate::OcrError;

/// One 8-bit gray image: what Tesseract is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes, row-major, 0 = black, 255 = white.
    pub pixels: Vec<u8>,
    /// Resolution from the file's metadata (PNG pHYs, JPEG JFIF, TIFF/BMP resolution) when
    /// the file states one.
    pub ppi: Option<u32>,
}

/// Luma of an sRGB pixel (ITU-R BT.601 weights, integer, rounded).
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000) as u8
}

/// `v` with alpha `a` composited over white: transparent areas are paper, not ink.
fn over_white(v: u8, a: u8) -> u8 {
    ((u32::from(v) * u32::from(a) + 255 * (255 - u32::from(a)) + 127) / 255) as u8
}

impl GrayImage {
    /// From 4-byte pixels in `order` (indices of R, G, B, A); pixels past the end of `data` are
    /// white (never panics on a short buffer).
    fn from_4(
        width: u32,
        height: u32,
        stride: usize,
        data: &[u8],
        [r, g, b, a]: [usize; 4],
    ) -> GrayImage {
        let (w, h) = (width as usize, height as usize);
        let mut pixels = vec![255u8; w * h];
        for (y, out) in pixels.chunks_exact_mut(w.max(1)).enumerate().take(h) {
            let Some(row) = data.get(y * stride..) else {
                break;
            };
            for (px, o) in row.chunks_exact(4).zip(out.iter_mut()) {
                *o = over_white(luma(px[r], px[g], px[b]), px[a]);
            }
        }
        GrayImage {
            width,
            height,
            pixels,
            ppi: None,
        }
    }

    /// From PDFium's render output (BGRA, `stride_bytes` per row): luma
    /// `(299R + 587G + 114B) / 1000`, alpha composited over white.
    pub fn from_bgra(width: u32, height: u32, stride_bytes: usize, bgra: &[u8]) -> GrayImage {
        Self::from_4(width, height, stride_bytes, bgra, [2, 1, 0, 3])
    }

    /// Like [`GrayImage::from_bgra`], for RGBA.
    pub fn from_rgba(width: u32, height: u32, stride_bytes: usize, rgba: &[u8]) -> GrayImage {
        Self::from_4(width, height, stride_bytes, rgba, [0, 1, 2, 3])
    }
}

/// Limits on untrusted images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Pixels per image or page (default 40 000 000: an A3 page at 400 ppi, about 40 MB gray).
    pub max_pixels: u64,
    /// Pages of a multi-page TIFF (default 5000).
    pub max_frames: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_pixels: 40_000_000,
            max_frames: 5000,
        }
    }
}

impl ImageLimits {
    fn check(&self, width: u32, height: u32) -> Result<(), OcrError> {
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(OcrError::TooManyPixels {
                width,
                height,
                limit: self.max_pixels,
            });
        }
        Ok(())
    }

    /// Bytes a decoder may allocate: the largest page as 16-bit RGBA, plus slack for its
    /// internal buffers.
    fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }
}

/// Decodes an image file into gray frames: one for most formats, one per page (in order) for
/// a multi-page TIFF. Animated WebP gives its first frame. Holds every page in memory at once:
/// for long TIFFs prefer [`decode_image_frames`].
pub fn decode_image(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<Vec<GrayImage>, OcrError> {
    let mut frames = Vec::new();
    decode_image_frames(bytes, format, limits, |_, frame| {
        frames.push(frame);
        Ok(())
    })?;
    Ok(frames)
}

/// [`decode_image`] one page at a time: `each(index, frame)` is called in page order with one
/// decoded page in memory, and may stop the decoding by returning an error (e.g. OCR failed).
/// All pages' dimensions and the page count are checked before the first page is decoded.
/// Returns the number of pages.
pub fn decode_image_frames(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
    mut each: impl FnMut(usize, GrayImage) -> Result<(), OcrError>,
) -> Result<u64, OcrError> {
    match format {
        ImageFormat::Tiff => tiff_pages::decode_tiff(bytes, limits, each),
        _ => {
            each(0, decode_single(bytes, format, limits)?)?;
            Ok(1)
        }
    }
}

fn corrupt(format: ImageFormat, message: impl ToString) -> OcrError {
    OcrError::CorruptImage {
        format: format.name(),
        message: message.to_string(),
    }
}

/// A file that ends early reaches the decoders as a bare I/O error ("failed to fill whole
/// buffer"): say what it means.
fn io_corrupt(format: ImageFormat, e: &std::io::Error) -> OcrError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        corrupt(
            format,
            format!("the file ends early, it is probably truncated ({e})"),
        )
    } else {
        corrupt(format, e)
    }
}

fn decode_single(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<GrayImage, OcrError> {
    let reader = || {
        let mut r = ::image::ImageReader::with_format(Cursor::new(bytes), format.to_image());
        let mut l = ::image::Limits::default();
        let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
        l.max_image_width = Some(side);
        l.max_image_height = Some(side);
        l.max_alloc = Some(limits.max_alloc());
        r.limits(l);
        r
    };
    // Header only: no pixel buffer yet.
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| image_error(format, e, None, limits))?;
    limits.check(width, height)?;
    let decoded = reader()
        .decode()
        .map_err(|e| image_error(format, e, Some((width, height)), limits))?;
    let mut gray = match decoded {
        ::image::DynamicImage::ImageLuma8(buf) => GrayImage {
            width,
            height,
            pixels: buf.into_raw(),
            ppi: None,
        },
        other => {
            let rgba = other.into_rgba8();
            GrayImage::from_rgba(width, height, width as usize * 4, rgba.as_raw())
        }
    };
    gray.ppi = match format {
        ImageFormat::Png => png_ppi(bytes),
        ImageFormat::Jpeg => jfif_ppi(bytes),
        ImageFormat::Bmp => bmp_ppi(bytes),
        _ => None,
    };
    Ok(gray)
}

fn image_error(
    format: ImageFormat,
    e: ::image::ImageError,
    dims: Option<(u32, u32)>,
    limits: &ImageLimits,
) -> OcrError {
    match (e, dims) {
        // The pre-check passed but the decoder needs more memory than allowed (a huge
        // intermediate buffer): still "too big", with the header's dimensions.
        (::image::ImageError::Limits(_), Some((width, height))) => OcrError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        },
        (::image::ImageError::IoError(e), _) => io_corrupt(format, &e),
        (e, _) => corrupt(format, e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bgra_conversion() {
        // One row of 3 pixels (stride 16: 4 bytes of padding): red, opaque black, transparent.
        let bgra = [0, 0, 255, 255, 0, 0, 0, 255, 0, 0, 0, 0, 9, 9, 9, 9];
        let g = GrayImage::from_bgra(3, 1, 16, &bgra);
        assert_eq!(g.pixels, vec![76, 0, 255]);
        let g = GrayImage::from_rgba(1, 1, 4, &[255, 0, 0, 255]);
        assert_eq!(g.pixels, vec![76]);
        // Short buffer: white, no panic.
        let g = GrayImage::from_bgra(2, 2, 8, &bgra[..8]);
        assert_eq!(g.pixels, vec![76, 0, 255, 255]);
    }

    #[test]
    fn limits_message() {
        let e = ImageLimits::default().check(100_000, 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image is 100000x100000 = 10000000000 pixels, over the limit of 40000000 (ocr_max_pixels)"
        );
    }
}
