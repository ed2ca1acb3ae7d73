//! Format detection from the bytes alone (no file name): ZIP packages by their parts and ODF/EPUB
//! `mimetype` entry, OLE2 compound files by their streams, RTF by its `{\rtf` signature, e-mail
//! by a leading header block.

use crate::ole::OLE_MAGIC;
use crate::zip_safe::SafeZip;
use crate::{Format, FormatError, Limits};

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Detects a format from the bytes only. `Ok(None)`: not one of ours (the caller tries other
/// types; a ZIP that is none of ours is plain application/zip). `Err` only for files that are
/// recognisably ours-or-related but refused: encrypted OOXML/ODF, legacy Word/PowerPoint/Outlook.
pub fn detect(bytes: &[u8]) -> Result<Option<Format>, FormatError> {
    if bytes.starts_with(ZIP_MAGIC) {
        return detect_zip(bytes);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return crate::ole::detect_ole(bytes);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    if text[start..].starts_with(b"{\\rtf") {
        return Ok(Some(Format::Rtf));
    }
    if crate::eml::looks_like_message(text) {
        return Ok(Some(Format::Eml));
    }
    Ok(None)
}

fn odf_media_type(s: &str) -> Option<Format> {
    match s.trim() {
        "application/vnd.oasis.opendocument.text" => Some(Format::Odt),
        "application/vnd.oasis.opendocument.presentation" => Some(Format::Odp),
        "application/vnd.oasis.opendocument.spreadsheet" => Some(Format::Ods),
        "application/epub+zip" => Some(Format::Epub),
        _ => None,
    }
}

fn detect_zip(bytes: &[u8]) -> Result<Option<Format>, FormatError> {
    let limits = Limits::default();
    let Ok(mut zip) = SafeZip::open(bytes, Format::Docx, &limits) else {
        return Ok(detect_damaged_zip(bytes));
    };
    let ooxml = [
        ("word/document.xml", Format::Docx),
        ("ppt/presentation.xml", Format::Pptx),
        ("xl/workbook.xml", Format::Xlsx),
    ];
    if zip.has("[Content_Types].xml") {
        for (part, format) in ooxml {
            if zip.has(part) {
                return Ok(Some(format));
            }
        }
    }
    let mut format = None;
    if let Ok(Some(m)) = zip.read("mimetype") {
        format = odf_media_type(&String::from_utf8_lossy(&m[..m.len().min(100)]));
    }
    if format.is_none()
        && let Ok(Some(manifest)) = zip.read("META-INF/manifest.xml")
    {
        format = root_media_type(&manifest, &limits);
    }
    if format.is_none()
        && zip.has("META-INF/container.xml")
        && zip.names().iter().any(|n| n.ends_with(".opf"))
    {
        format = Some(Format::Epub);
    }
    if let Some(f) = format
        && f != Format::Epub
    {
        crate::odf::refuse_encrypted(&mut zip, &limits).map_err(|e| match e {
            FormatError::Encrypted { .. } => FormatError::Encrypted {
                format_name: f.name().to_string(),
            },
            other => other,
        })?;
    }
    Ok(format)
}

/// The media type of the manifest's root entry (`full-path="/"`).
fn root_media_type(manifest: &[u8], limits: &Limits) -> Option<Format> {
    let mut found = None;
    let _ = crate::xml::walk(
        manifest,
        Format::Odt,
        "META-INF/manifest.xml",
        limits,
        |ev| {
            if let crate::xml::Ev::Start(el) = ev
                && el.local() == "file-entry"
                && el.attr("manifest:full-path") == Some("/")
            {
                found = el.attr("manifest:media-type").and_then(odf_media_type);
            }
            Ok(())
        },
    );
    found
}

/// A ZIP whose central directory is unreadable (e.g. truncated): recognise it from the first
/// local entries so that extraction reports a clear "corrupt DOCX" instead of "unknown type".
fn detect_damaged_zip(bytes: &[u8]) -> Option<Format> {
    let head = &bytes[..bytes.len().min(1 << 20)];
    // ODF/EPUB put an uncompressed "mimetype" entry first; its content follows the 38-byte header.
    if head.get(30..38) == Some(b"mimetype") {
        let extra = usize::from(u16::from_le_bytes([head[28], head[29]]));
        let start = 38 + extra;
        if let Some(content) = head.get(start..(start + 60).min(head.len())) {
            let s = String::from_utf8_lossy(content);
            for f in [Format::Odt, Format::Odp, Format::Ods, Format::Epub] {
                if s.starts_with(f.mime()) {
                    return Some(f);
                }
            }
        }
    }
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    for (part, format) in [
        (&b"word/document.xml"[..], Format::Docx),
        (b"ppt/presentation.xml", Format::Pptx),
        (b"ppt/slides/", Format::Pptx),
        (b"xl/workbook.xml", Format::Xlsx),
        (b"xl/worksheets/", Format::Xlsx),
    ] {
        if contains(part) {
            return Some(format);
        }
    }
    None
}
