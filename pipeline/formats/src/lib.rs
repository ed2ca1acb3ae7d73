//! Document formats beyond PDF, plain text and HTML: Office Open XML (DOCX, PPTX, XLSX), legacy
//! Excel (XLS), OpenDocument (ODT, ODP, ODS), EPUB, RTF and e-mail (EML).
//!
//! Everything here is a pure function of the bytes given: no I/O, no global state, deterministic.
//! Input is assumed hostile: archives are read through size- and ratio-capped readers, XML with
//! entity declarations is refused, nesting is bounded, and no input may panic.

mod detect;
mod docx;
mod eml;
mod epub;
mod odf;
mod ole;
mod pptx;
mod rtf;
mod sheets;
mod text;
mod xml;
mod zip_safe;

pub use detect::detect;

/// A format this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Docx,
    Pptx,
    Xlsx,
    Xls,
    Ods,
    Odt,
    Odp,
    Epub,
    Rtf,
    Eml,
}

const ALL: [Format; 10] = [
    Format::Docx,
    Format::Pptx,
    Format::Xlsx,
    Format::Xls,
    Format::Ods,
    Format::Odt,
    Format::Odp,
    Format::Epub,
    Format::Rtf,
    Format::Eml,
];

impl Format {
    /// The registered (IANA) media type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Xls => "application/vnd.ms-excel",
            Format::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            Format::Odt => "application/vnd.oasis.opendocument.text",
            Format::Odp => "application/vnd.oasis.opendocument.presentation",
            Format::Epub => "application/epub+zip",
            Format::Rtf => "application/rtf",
            Format::Eml => "message/rfc822",
        }
    }

    /// Inverse of [`Format::mime`]; also accepts the common alias `text/rtf` and parameters
    /// (`; charset=...`), case-insensitively.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence == "text/rtf" {
            return Some(Format::Rtf);
        }
        ALL.iter().copied().find(|f| f.mime() == essence)
    }

    pub fn all() -> &'static [Format] {
        &ALL
    }

    /// Short name for messages ("DOCX").
    pub fn name(self) -> &'static str {
        match self {
            Format::Docx => "DOCX",
            Format::Pptx => "PPTX",
            Format::Xlsx => "XLSX",
            Format::Xls => "XLS",
            Format::Ods => "ODS",
            Format::Odt => "ODT",
            Format::Odp => "ODP",
            Format::Epub => "EPUB",
            Format::Rtf => "RTF",
            Format::Eml => "EML",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One page-like unit of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// How a person names this unit where "page N" would be wrong: "slide 3", "sheet Budget",
    /// "chapter 2"; None for ordinary pages/whole documents.
    pub label: Option<String>,
    pub text: String,
}

/// A file attached to an e-mail, handed back for the caller to extract with its own extractors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub sections: Vec<Section>,
    pub attachments: Vec<Attachment>,
}

/// Resource ceilings for one document; exceeding one refuses the document rather than truncating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes decompressed from a container.
    pub max_unpacked_bytes: u64,
    /// Max uncompressed/compressed ratio of any zip entry read (entries under 1 MiB are exempt).
    pub max_entry_ratio: u64,
    /// Zip entries.
    pub max_entries: usize,
    /// Slides/sheets/chapters/pages.
    pub max_sections: u64,
    /// Element (or RTF group) nesting.
    pub max_xml_depth: usize,
    /// E-mail attachments.
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unpacked_bytes: 256 * 1024 * 1024,
            max_entry_ratio: 200,
            max_entries: 10_000,
            max_sections: 5000,
            max_xml_depth: 256,
            max_attachments: 100,
        }
    }
}

/// Why a document could not be read. Every variant is about the document itself, so none is
/// worth retrying; the Display text is meant for a person reading a job's failure reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("corrupt or unreadable {format}: {message}")]
    Corrupt { format: Format, message: String },
    #[error(
        "{format_name} is password-protected (encrypted); remove the password and upload it again"
    )]
    Encrypted { format_name: String },
    #[error("{message}")]
    ArchiveLimit { message: String },
    #[error("{message}")]
    UnsafeXml { message: String },
    #[error(
        "refused: the document has {sections} sections (slides, sheets or chapters), over the limit of {limit}"
    )]
    TooManySections { sections: u64, limit: u64 },
    #[error("unsupported format {media_type}: {hint}")]
    Unsupported { media_type: String, hint: String },
    #[error("no text found: {message}")]
    NoText { message: String },
}

impl FormatError {
    /// Always false: the same bytes fail the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }

    pub(crate) fn corrupt(format: Format, message: impl Into<String>) -> Self {
        FormatError::Corrupt {
            format,
            message: message.into(),
        }
    }
}

/// Extracts the sections (and, for e-mail, attachments) of a document of a known format.
pub fn extract(format: Format, bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let mut out = match format {
        Format::Docx => docx::extract(bytes, limits)?,
        Format::Pptx => pptx::extract(bytes, limits)?,
        Format::Xlsx | Format::Xls | Format::Ods => sheets::extract(format, bytes, limits)?,
        Format::Odt | Format::Odp => odf::extract(format, bytes, limits)?,
        Format::Epub => epub::extract(bytes, limits)?,
        Format::Rtf => rtf::extract(bytes, limits)?,
        Format::Eml => eml::extract(bytes, limits)?,
    };
    out.sections.retain(|s| !s.text.is_empty());
    if out.sections.is_empty() && out.attachments.is_empty() {
        return Err(FormatError::NoText {
            message: format!("the {} document contains no text", format.name()),
        });
    }
    let count = out.sections.len() as u64;
    if count > limits.max_sections {
        return Err(FormatError::TooManySections {
            sections: count,
            limit: limits.max_sections,
        });
    }
    Ok(out)
}
