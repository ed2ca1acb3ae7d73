//! Image files that are documents of their own (scans, photos, faxes), decoded into the 8-bit
//! gray frames Tesseract reads.
//!
//! Untrusted input: dimensions come from the header and are checked against
//! [`ImageLimits::max_pixels`] before any pixel buffer exists, so a 100 kB PNG claiming
//! 100000x100000 pixels is refused at once instead of allocating 10 GB. The `image`/`tiff`
//! decoders' own allocation limits are a second guard.

use std::io::Cursor;

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

/// Image file formats accepted as documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (JFIF/Exif).
    Jpeg,
    /// TIFF, multi-page included (BigTIFF too).
    Tiff,
    /// Windows bitmap.
    Bmp,
    /// WebP (lossy and lossless).
    Webp,
}

impl ImageFormat {
    /// All formats.
    pub const ALL: [ImageFormat; 5] = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Tiff,
        ImageFormat::Bmp,
        ImageFormat::Webp,
    ];

    /// The registered media type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// From a media type; case and parameters (`; charset=...`) ignored, common aliases
    /// (`image/jpg`, `image/x-ms-bmp`, ...) accepted.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        Some(match essence.as_str() {
            "image/png" | "image/x-png" => ImageFormat::Png,
            "image/jpeg" | "image/jpg" | "image/pjpeg" => ImageFormat::Jpeg,
            "image/tiff" | "image/tiff-fx" | "image/x-tiff" => ImageFormat::Tiff,
            "image/bmp" | "image/x-bmp" | "image/x-ms-bmp" => ImageFormat::Bmp,
            "image/webp" => ImageFormat::Webp,
            _ => return None,
        })
    }

    /// From the file's magic bytes only (never its name).
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
            .iter()
            .any(|m| bytes.starts_with(*m))
        {
            Some(ImageFormat::Tiff)
        } else if is_bmp(bytes) {
            Some(ImageFormat::Bmp)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Webp => "WebP",
        }
    }

    fn to_image(self) -> ::image::ImageFormat {
        match self {
            ImageFormat::Png => ::image::ImageFormat::Png,
            ImageFormat::Jpeg => ::image::ImageFormat::Jpeg,
            ImageFormat::Tiff => ::image::ImageFormat::Tiff,
            ImageFormat::Bmp => ::image::ImageFormat::Bmp,
            ImageFormat::Webp => ::image::ImageFormat::WebP,
        }
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
        ImageFormat::Tiff => decode_tiff(bytes, limits, each),
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

fn tiff_error(e: tiff::TiffError) -> OcrError {
    match e {
        tiff::TiffError::IoError(e) => io_corrupt(ImageFormat::Tiff, &e),
        e => corrupt(ImageFormat::Tiff, e),
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

fn decode_tiff(
    bytes: &[u8],
    limits: &ImageLimits,
    mut each: impl FnMut(usize, GrayImage) -> Result<(), OcrError>,
) -> Result<u64, OcrError> {
    use tiff::decoder::{Decoder, Limits};
    let open = || -> Result<Decoder<Cursor<&[u8]>>, OcrError> {
        let mut l = Limits::default();
        l.decoding_buffer_size = usize::try_from(limits.max_alloc()).unwrap_or(usize::MAX);
        Ok(Decoder::new(Cursor::new(bytes))
            .map_err(tiff_error)?
            .with_limits(l))
    };
    // Pass 1, directories only: count the pages and check each page's dimensions before any
    // page is decoded (a huge page 900 must not cost 899 decoded pages first).
    let mut dec = open()?;
    let mut frames = 0u64;
    loop {
        frames += 1;
        let (w, h) = dec.dimensions().map_err(tiff_error)?;
        limits.check(w, h)?;
        if !dec.more_images() {
            break;
        }
        dec.next_image().map_err(tiff_error)?;
    }
    if frames > limits.max_frames {
        return Err(OcrError::TooManyFrames {
            frames,
            limit: limits.max_frames,
        });
    }
    // Pass 2: decode.
    let mut dec = open()?;
    for index in 0.. {
        each(index, tiff_page(&mut dec)?)?;
        if !dec.more_images() {
            break;
        }
        dec.next_image().map_err(tiff_error)?;
    }
    Ok(frames)
}

fn tiff_page(dec: &mut tiff::decoder::Decoder<Cursor<&[u8]>>) -> Result<GrayImage, OcrError> {
    use tiff::ColorType as C;
    use tiff::decoder::DecodingResult as D;
    let fmt = ImageFormat::Tiff;
    let (width, height) = dec.dimensions().map_err(tiff_error)?;
    let color = dec.colortype().map_err(tiff_error)?;
    let ppi = tiff_ppi(dec);
    let data = dec.read_image().map_err(tiff_error)?;
    let (w, h) = (width as usize, height as usize);
    let n = w * h;
    // 16-bit samples: keep the high byte.
    let bytes: Vec<u8> = match data {
        D::U8(v) => v,
        D::U16(v) => v.iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(corrupt(
                fmt,
                format!("unsupported sample format ({color:?})"),
            ));
        }
    };
    let short = || corrupt(fmt, "pixel data shorter than the image");
    let pixels = match color {
        // Bilevel (fax): rows packed MSB first, padded to whole bytes; 0 = black once the
        // decoder has applied WhiteIsZero.
        C::Gray(1) => {
            let row_bytes = w.div_ceil(8);
            if bytes.len() < row_bytes * h {
                return Err(short());
            }
            let mut px = Vec::with_capacity(n);
            for row in bytes.chunks_exact(row_bytes).take(h) {
                px.extend((0..w).map(|x| {
                    if row[x / 8] & (0x80 >> (x % 8)) != 0 {
                        255
                    } else {
                        0
                    }
                }));
            }
            px
        }
        C::Gray(8 | 16) => {
            let mut v = bytes;
            if v.len() < n {
                return Err(short());
            }
            v.truncate(n);
            v
        }
        C::GrayA(8 | 16) => pick(&bytes, n, 2, |p| over_white(p[0], p[1])).ok_or_else(short)?,
        C::RGB(8 | 16) => pick(&bytes, n, 3, |p| luma(p[0], p[1], p[2])).ok_or_else(short)?,
        C::RGBA(8 | 16) => {
            pick(&bytes, n, 4, |p| over_white(luma(p[0], p[1], p[2]), p[3])).ok_or_else(short)?
        }
        C::CMYK(8) => pick(&bytes, n, 4, |p| {
            let k = 255 - u32::from(p[3]);
            let ch = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
            luma(ch(p[0]), ch(p[1]), ch(p[2]))
        })
        .ok_or_else(short)?,
        other => return Err(corrupt(fmt, format!("unsupported colour type {other:?}"))),
    };
    Ok(GrayImage {
        width,
        height,
        pixels,
        ppi,
    })
}

/// `n` pixels of `channels` samples each through `f`; None if `bytes` is short.
fn pick(bytes: &[u8], n: usize, channels: usize, f: impl Fn(&[u8]) -> u8) -> Option<Vec<u8>> {
    (bytes.len() >= n * channels).then(|| bytes.chunks_exact(channels).take(n).map(f).collect())
}

/// A plausible scan resolution or None (metadata often says 1 or 72 for "unknown").
fn plausible(ppi: f64) -> Option<u32> {
    (ppi.is_finite() && (70.0..=2400.0).contains(&ppi)).then(|| ppi.round() as u32)
}

fn tiff_ppi(dec: &mut tiff::decoder::Decoder<Cursor<&[u8]>>) -> Option<u32> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let x = match dec.find_tag(Tag::XResolution).ok()?? {
        Value::Rational(n, d) if d != 0 => f64::from(n) / f64::from(d),
        Value::Double(v) => v,
        Value::Float(v) => f64::from(v),
        Value::Unsigned(v) => f64::from(v),
        Value::Short(v) => f64::from(v),
        _ => return None,
    };
    // ResolutionUnit: 1 none, 2 inch (the default), 3 centimetre.
    match dec
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2)
    {
        2 => plausible(x),
        3 => plausible(x * 2.54),
        _ => None,
    }
}

/// PNG `pHYs` (pixels per metre, unit 1) if it comes before the image data.
fn png_ppi(bytes: &[u8]) -> Option<u32> {
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = bytes.get(pos + 8..pos + 8 + len)?;
        match kind {
            b"pHYs" if len == 9 && data[8] == 1 => {
                let ppm = u32::from_be_bytes(data[..4].try_into().ok()?);
                return plausible(f64::from(ppm) * 0.0254);
            }
            b"IDAT" | b"IEND" => return None,
            _ => pos += 12 + len,
        }
    }
    None
}

/// JPEG JFIF APP0 density (units 1 = per inch, 2 = per cm) if it is the first segment.
fn jfif_ppi(bytes: &[u8]) -> Option<u32> {
    let app0 = bytes.get(2..18)?;
    if app0[..2] != [0xFF, 0xE0] || &app0[4..9] != b"JFIF\0" {
        return None;
    }
    let x = f64::from(u16::from_be_bytes([app0[12], app0[13]]));
    match app0[11] {
        1 => plausible(x),
        2 => plausible(x * 2.54),
        _ => None,
    }
}

/// BMP info header's horizontal pixels per metre.
fn bmp_ppi(bytes: &[u8]) -> Option<u32> {
    let header_size = u32::from_le_bytes(bytes.get(14..18)?.try_into().ok()?);
    if header_size < 40 {
        return None;
    }
    let ppm = i32::from_le_bytes(bytes.get(38..42)?.try_into().ok()?);
    plausible(f64::from(ppm) * 0.0254)
}

/// "BM" alone is how plenty of text starts ("BMI-1 ..."): a BMP also needs its reserved
/// bytes zero and one of the DIB header sizes that exist (core 12, info 40, v2 52, v3 56,
/// v4 108, v5 124, OS/2 64) at offset 14.
fn is_bmp(bytes: &[u8]) -> bool {
    let le32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    bytes.starts_with(b"BM")
        && bytes.len() >= 26
        && le32(6) == Some(0)
        && matches!(le32(14), Some(12 | 40 | 52 | 56 | 64 | 108 | 124))
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
    fn detect_and_mime() {
        assert_eq!(
            ImageFormat::detect(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::detect(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::detect(b"II*\0\x08\0\0\0"),
            Some(ImageFormat::Tiff)
        );
        assert_eq!(
            ImageFormat::detect(b"MM\0*\0\0\0\x08"),
            Some(ImageFormat::Tiff)
        );
        assert_eq!(
            ImageFormat::detect(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::detect(b"RIFF\0\0\0\0WAVEfmt "), None);
        // Text that happens to start with "BM" is not a bitmap.
        assert_eq!(
            ImageFormat::detect(
                b"BMI-1 is a polycomb ring finger oncogene expressed in stem cells"
            ),
            None
        );
        assert_eq!(ImageFormat::detect(b"%PDF-1.7"), None);
        assert_eq!(ImageFormat::detect(b""), None);
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_mime(f.mime()), Some(f));
        }
        assert_eq!(
            ImageFormat::from_mime("IMAGE/JPG; q=1"),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::from_mime("application/pdf"), None);
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
