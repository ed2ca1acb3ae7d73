//! ZIP containers read defensively: entry count, per-entry expansion ratio and total unpacked
//! bytes are enforced while inflating (declared sizes are checked too, but never trusted alone).
//! Entry names are only used as lookup keys, never as paths.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::{Format, FormatError, Limits};

/// Entries smaller than this are never refused for their ratio (XML compresses very well).
const RATIO_EXEMPT: u64 = 1024 * 1024;

pub(crate) struct SafeZip<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    format: Format,
    limits: Limits,
    unpacked: u64,
}

impl<'a> SafeZip<'a> {
    pub(crate) fn open(
        bytes: &'a [u8],
        format: Format,
        limits: &Limits,
    ) -> Result<Self, FormatError> {
        if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            // Password-protected OOXML is an OLE2 file, not a ZIP: say so rather than "corrupt".
            crate::ole::detect_ole(bytes)?;
            return Err(FormatError::corrupt(
                format,
                "this is an OLE2 (legacy Office) file, not a ZIP package",
            ));
        }
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            FormatError::corrupt(format, format!("not a readable ZIP container ({e})"))
        })?;
        if archive.len() > limits.max_entries {
            return Err(FormatError::ArchiveLimit {
                message: format!(
                    "refused: the {} archive has {} entries (limit {})",
                    format.name(),
                    archive.len(),
                    limits.max_entries
                ),
            });
        }
        Ok(SafeZip {
            archive,
            format,
            limits: *limits,
            unpacked: 0,
        })
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.archive.index_for_name(name).is_some()
    }

    /// Entry names that decode; unreadable names are skipped (they cannot be looked up anyway).
    pub(crate) fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .collect()
    }

    /// Reads an entry, or `None` if the archive has no such entry.
    pub(crate) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, FormatError> {
        let Some(index) = self.archive.index_for_name(name) else {
            return Ok(None);
        };
        self.read_index(index, name).map(Some)
    }

    /// Reads an entry the format cannot do without.
    pub(crate) fn require(&mut self, name: &str) -> Result<Vec<u8>, FormatError> {
        let format = self.format;
        self.read(name)?
            .ok_or_else(|| FormatError::corrupt(format, format!("{name} is missing")))
    }

    /// Inflates every entry (discarding the bytes) so that the limits hold before the archive is
    /// handed to a reader that does not enforce them (calamine).
    pub(crate) fn check_all(&mut self) -> Result<(), FormatError> {
        for index in 0..self.archive.len() {
            self.read_index(index, &format!("entry #{index}"))?;
        }
        Ok(())
    }

    fn read_index(&mut self, index: usize, name: &str) -> Result<Vec<u8>, FormatError> {
        let format = self.format;
        let ratio = self.limits.max_entry_ratio;
        let max_total = self.limits.max_unpacked_bytes;
        let mut file = self
            .archive
            .by_index(index)
            .map_err(|e| FormatError::corrupt(format, format!("{name} cannot be read ({e})")))?;
        if file.encrypted() {
            return Err(FormatError::Encrypted {
                format_name: format.name().to_string(),
            });
        }
        let name = file
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| name.to_string());
        let compressed = file.compressed_size().max(1);
        let allowed = RATIO_EXEMPT.max(compressed.saturating_mul(ratio));
        let declared = file.size();
        let too_big = |seen: u64| FormatError::ArchiveLimit {
            message: format!(
                "refused: {name} expands {}x (limit {ratio}x), a likely zip bomb",
                seen.max(declared) / compressed
            ),
        };
        if declared > allowed {
            return Err(too_big(declared));
        }
        let remaining = max_total.saturating_sub(self.unpacked);
        let total_exceeded = || FormatError::ArchiveLimit {
            message: format!(
                "refused: the {} archive unpacks to more than {} MiB (limit)",
                format.name(),
                max_total / (1024 * 1024)
            ),
        };
        if declared > remaining {
            return Err(total_exceeded());
        }
        let mut out = Vec::with_capacity(usize::try_from(declared.min(1 << 20)).unwrap_or(0));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(|e| {
                FormatError::corrupt(format, format!("{name} cannot be decompressed ({e})"))
            })?;
            if n == 0 {
                break;
            }
            let got = out.len() as u64 + n as u64;
            if got > allowed {
                return Err(too_big(got));
            }
            if got > remaining {
                return Err(total_exceeded());
            }
            out.extend_from_slice(&buf[..n]);
        }
        self.unpacked += out.len() as u64;
        Ok(out)
    }
}

/// Resolves a relationship target against the folder of the part that points to it
/// ("slides/slide1.xml" from "ppt/presentation.xml" gives "ppt/slides/slide1.xml").
pub(crate) fn resolve_target(base_part: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return normalize(abs);
    }
    let dir = match base_part.rfind('/') {
        Some(i) => &base_part[..=i],
        None => "",
    };
    normalize(&format!("{dir}{target}"))
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::resolve_target;

    #[test]
    fn relationship_targets() {
        assert_eq!(
            resolve_target("ppt/presentation.xml", "slides/slide1.xml"),
            "ppt/slides/slide1.xml"
        );
        assert_eq!(
            resolve_target("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(
            resolve_target("OEBPS/content.opf", "/x/a.xhtml"),
            "x/a.xhtml"
        );
    }
}
