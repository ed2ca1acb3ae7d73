//! OLE2 compound files (legacy Office, Outlook messages, and encrypted OOXML packages, which
//! are OLE2 containers, not ZIPs): recognised by their streams, so each gets a clear verdict.

use std::io::Cursor;

use crate::{Format, FormatError};

pub(crate) const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The format of an OLE2 file (`Ok(None)`: not one of ours), or why it is refused.
pub(crate) fn detect_ole(bytes: &[u8]) -> Result<Option<Format>, FormatError> {
    let Ok(cfb) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return Ok(None);
    };
    let names: Vec<String> = cfb
        .read_root_storage()
        .map(|e| e.name().to_string())
        .collect();
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    if has("EncryptedPackage") {
        return Err(FormatError::Encrypted {
            format_name: "Office document (encrypted OOXML package)".to_string(),
        });
    }
    if has("Workbook") || has("Book") {
        return Ok(Some(Format::Xls));
    }
    let unsupported = |media_type: &str, hint: &str| {
        Err(FormatError::Unsupported {
            media_type: media_type.to_string(),
            hint: hint.to_string(),
        })
    };
    if has("WordDocument") {
        return unsupported("application/msword", "save it as DOCX");
    }
    if has("PowerPoint Document") {
        return unsupported("application/vnd.ms-powerpoint", "save it as PPTX");
    }
    if names.iter().any(|n| n.starts_with("__substg1.0_")) {
        return unsupported("application/vnd.ms-outlook", "save the message as EML");
    }
    Ok(None)
}
