//! The resolution an image file states (PNG pHYs, JPEG JFIF, BMP; TIFF's is read with its
//! pages), kept only when it is a plausible scan resolution: the page is then recognised at it,
//! instead of at the one Tesseract estimates.

/// A plausible scan resolution or None (metadata often says 1 or 72 for "unknown").
pub(super) fn plausible(ppi: f64) -> Option<u32> {
    (ppi.is_finite() && (70.0..=2400.0).contains(&ppi)).then(|| ppi.round() as u32)
}

/// PNG `pHYs` (pixels per metre, unit 1) if it comes before the image data.
pub(super) fn png_ppi(bytes: &[u8]) -> Option<u32> {
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
pub(super) fn jfif_ppi(bytes: &[u8]) -> Option<u32> {
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
pub(super) fn bmp_ppi(bytes: &[u8]) -> Option<u32> {
    let header_size = u32::from_le_bytes(bytes.get(14..18)?.try_into().ok()?);
    if header_size < 40 {
        return None;
    }
    let ppm = i32::from_le_bytes(bytes.get(38..42)?.try_into().ok()?);
    plausible(f64::from(ppm) * 0.0254)
}
