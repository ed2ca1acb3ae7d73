//! PII detection and redaction: a lane between extraction and chunking that counts, or replaces
//! with `[LABEL]`, the personal data in every page's text.
//!
//! [`PiiScanner`] holds the detectors: the built-ins (email, phone, IBAN, card, SSN, IP; regexes
//! plus validity checks so ordinary numbers, dates and versions are left alone), a profile's
//! [`CustomPattern`]s, and any other [`PiiDetector`] (an NER model later). Matched text is never
//! logged and never put into an error.

mod checks;
mod detectors;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// off: nothing; detect: count only; redact: replace each match with `[LABEL]` and count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiMode {
    #[default]
    Off,
    Detect,
    Redact,
}

impl PiiMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiMode::Off => "off",
            PiiMode::Detect => "detect",
            PiiMode::Redact => "redact",
        }
    }
}

/// One match: byte range in the text and the detector's label (lowercase: "email", "phone",
/// "iban", "card", "ssn", "ip", or a custom pattern's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiMatch {
    pub label: String,
    pub start: usize,
    pub end: usize,
}

/// A detector. Regex detectors now; an NER model can implement it later.
pub trait PiiDetector: Send + Sync {
    /// Lowercase label, used in counts and (upper-cased) in the replacement `[EMAIL]`.
    fn label(&self) -> &str;
    /// Appends every match in `text` (any order, may overlap others').
    fn find(&self, text: &str, out: &mut Vec<PiiMatch>);
}

/// A per-profile pattern: name ([a-z0-9_], 1-32 chars, not a built-in label) and a regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    pub name: String,
    pub pattern: String,
}

/// Matches per label.
pub type PiiCounts = BTreeMap<String, u64>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PiiError {
    #[error("custom PII pattern {name:?}: {reason}")]
    InvalidPattern { name: String, reason: String },
}

impl PiiError {
    /// A bad pattern stays bad.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Bump when a built-in detector changes what it matches: it is part of [`PiiScanner::fingerprint`].
const BUILTIN_VERSION: u32 = 1;

/// Compiled size limit of one custom pattern (and of its lazy DFA cache).
const CUSTOM_PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Longest custom pattern name.
const MAX_NAME_LEN: usize = 32;

/// Which detector wins when matches of different detectors overlap: the lower tier. Phone
/// numbers are the least specific shape (a card or an IBAN can contain one), so they yield to
/// everything else; within a tier the earliest start wins, then the longest.
const TIER_SPECIFIC: u8 = 0;
const TIER_PHONE: u8 = 1;

struct Entry {
    detector: Box<dyn PiiDetector>,
    tier: u8,
}

/// The detector set of one profile. Cheap to build (the built-in regexes are compiled once per
/// process); share it behind an `Arc` across documents.
pub struct PiiScanner {
    entries: Vec<Entry>,
    custom: Vec<CustomPattern>,
}

impl fmt::Debug for PiiScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.entries.iter().map(|e| e.detector.label()).collect();
        f.debug_struct("PiiScanner")
            .field("detectors", &labels)
            .finish()
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> PiiError {
    PiiError::InvalidPattern {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

fn check_name(name: &str, seen: &[CustomPattern]) -> Result<(), PiiError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(invalid(
            name,
            format!("name must be 1-{MAX_NAME_LEN} characters"),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid(name, "name may only contain a-z, 0-9 and _"));
    }
    if detectors::BUILTIN_LABELS.contains(&name) {
        return Err(invalid(name, "name is taken by a built-in detector"));
    }
    if seen.iter().any(|c| c.name == name) {
        return Err(invalid(name, "name is used by another custom pattern"));
    }
    Ok(())
}

impl PiiScanner {
    /// The built-in detectors plus `custom` (compiled with a size limit, so a hostile pattern
    /// cannot blow up memory; the regex crate is linear-time).
    pub fn new(custom: &[CustomPattern]) -> Result<Self, PiiError> {
        let mut entries: Vec<Entry> = detectors::builtins()
            .into_iter()
            .map(|detector| {
                let tier = if detector.label() == detectors::PHONE {
                    TIER_PHONE
                } else {
                    TIER_SPECIFIC
                };
                Entry { detector, tier }
            })
            .collect();
        let mut seen: Vec<CustomPattern> = Vec::with_capacity(custom.len());
        for c in custom {
            check_name(&c.name, &seen)?;
            let re = RegexBuilder::new(&c.pattern)
                .size_limit(CUSTOM_PATTERN_SIZE_LIMIT)
                .dfa_size_limit(CUSTOM_PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| invalid(&c.name, e.to_string()))?;
            if re.is_match("") {
                return Err(invalid(&c.name, "pattern matches the empty string"));
            }
            entries.push(Entry {
                detector: Box::new(detectors::Custom {
                    label: c.name.clone(),
                    re,
                }),
                tier: TIER_SPECIFIC,
            });
            seen.push(c.clone());
        }
        Ok(Self {
            entries,
            custom: seen,
        })
    }

    /// Adds another detector (e.g. NER) after the built-ins. It outranks phone numbers on
    /// overlap, like every detector but the phone one.
    pub fn with_detector(mut self, detector: Box<dyn PiiDetector>) -> Self {
        self.entries.push(Entry {
            detector,
            tier: TIER_SPECIFIC,
        });
        self
    }

    /// All matches, sorted by start, non-overlapping (on overlap keep the earliest start, then
    /// the longest; phone numbers yield to the other detectors). Empty ranges and ranges that
    /// are out of bounds or not on char boundaries (from a faulty detector) are dropped.
    pub fn scan(&self, text: &str) -> Vec<PiiMatch> {
        // (tier, detector index, match), sorted so the preferred candidate comes first.
        let mut candidates: Vec<(u8, usize, PiiMatch)> = Vec::new();
        let mut found = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            found.clear();
            entry.detector.find(text, &mut found);
            candidates.extend(
                found
                    .drain(..)
                    .filter(|m| {
                        m.start < m.end
                            && m.end <= text.len()
                            && text.is_char_boundary(m.start)
                            && text.is_char_boundary(m.end)
                    })
                    .map(|m| (entry.tier, i, m)),
            );
        }
        candidates.sort_by_key(|(tier, i, m)| (*tier, m.start, Reverse(m.end), *i));
        // Accepted ranges by start; they never overlap, so only the last one starting before a
        // candidate's end can overlap it.
        let mut taken: BTreeMap<usize, PiiMatch> = BTreeMap::new();
        for (_, _, m) in candidates {
            let overlaps = taken
                .range(..m.end)
                .next_back()
                .is_some_and(|(_, t)| t.end > m.start);
            if !overlaps {
                taken.insert(m.start, m);
            }
        }
        taken.into_values().collect()
    }

    /// `text` with each match replaced by `[LABEL]` (label upper-cased), counts added to `counts`.
    pub fn redact(&self, text: &str, counts: &mut PiiCounts) -> String {
        let matches = self.scan(text);
        if matches.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in &matches {
            out.push_str(&text[last..m.start]);
            out.push('[');
            out.push_str(&m.label.to_uppercase());
            out.push(']');
            last = m.end;
        }
        out.push_str(&text[last..]);
        add_counts(&matches, counts);
        out
    }

    /// Counts only.
    pub fn count(&self, text: &str, counts: &mut PiiCounts) {
        add_counts(&self.scan(text), counts);
    }

    /// Short stable hash of the detector set (built-in detector version, custom patterns, the
    /// labels of added detectors), so a pipeline version can change when patterns change.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("docfleet-pii/{BUILTIN_VERSION}\n").as_bytes());
        for c in &self.custom {
            h.update(b"custom\0");
            h.update(c.name.as_bytes());
            h.update([0]);
            h.update(c.pattern.as_bytes());
            h.update([0]);
        }
        let builtins = detectors::BUILTIN_LABELS.len() + self.custom.len();
        for entry in self.entries.iter().skip(builtins) {
            h.update(b"detector\0");
            h.update(entry.detector.label().as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..6])
    }
}

fn add_counts(matches: &[PiiMatch], counts: &mut PiiCounts) {
    for m in matches {
        *counts.entry(m.label.clone()).or_insert(0) += 1;
    }
}

/// The lane: applies `mode` to every page's text in place (Redact rewrites `page.text`), returns
/// the counts. Off returns empty counts and touches nothing.
pub fn apply_to_pages(scanner: &PiiScanner, mode: PiiMode, pages: &mut [crate::Page]) -> PiiCounts {
    let mut counts = PiiCounts::new();
    match mode {
        PiiMode::Off => {}
        PiiMode::Detect => {
            for page in pages.iter() {
                scanner.count(&page.text, &mut counts);
            }
        }
        PiiMode::Redact => {
            for page in pages.iter_mut() {
                page.text = scanner.redact(&page.text, &mut counts);
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests;
