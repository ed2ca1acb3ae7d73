//! TIFF, page by page (the `image` crate reads only the first page): fax bilevel, gray, RGB(A)
//! and CMYK, 8 or 16 bits per sample.

use std::io::Cursor;

use super::resolution::plausible;
use super::{GrayImage, ImageFormat, ImageLimits, corrupt, io_corrupt, luma, over_white};
use crate::OcrError;

fn tiff_error(e: tiff::TiffError) -> OcrError {
    match e {
        tiff::TiffError::IoError(e) => io_corrupt(ImageFormat::Tiff, &e),
        e => corrupt(ImageFormat::Tiff, e),
    }
}

pub(super) fn decode_tiff(
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
