//! The image file formats accepted as documents: told from their first bytes or a MIME type.

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

    pub(super) fn to_image(self) -> ::image::ImageFormat {
        match self {
            ImageFormat::Png => ::image::ImageFormat::Png,
            ImageFormat::Jpeg => ::image::ImageFormat::Jpeg,
            ImageFormat::Tiff => ::image::ImageFormat::Tiff,
            ImageFormat::Bmp => ::image::ImageFormat::Bmp,
            ImageFormat::Webp => ::image::ImageFormat::WebP,
        }
    }
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
    use super::*;

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
}
