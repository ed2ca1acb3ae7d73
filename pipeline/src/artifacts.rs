//! Artifacts of one processed document version, under `<tenant>/<doc_id>/<content_sha256>/`:
//! `text.json` (pages), `chunks.jsonl` (one chunk a line) and `manifest.json` (what was done,
//! with which model and versions, and how long each lane took). The manifest is written last,
//! after the index, so its presence means the version is complete.

use serde::{Deserialize, Serialize};

use crate::store::{ObjectKey, ObjectStore};
use crate::{Chunk, DocIdentity, Error, Page, Result};

pub const TEXT_FILE: &str = "text.json";
pub const CHUNKS_FILE: &str = "chunks.jsonl";
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedText {
    pub doc_id: String,
    pub source: String,
    pub media_type: String,
    pub pages: Vec<Page>,
}

/// Milliseconds spent in each lane for one document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LaneTimings {
    pub extract_ms: f64,
    pub chunk_ms: f64,
    pub embed_ms: f64,
    pub index_ms: f64,
    pub total_ms: f64,
}

impl LaneTimings {
    /// The four lanes by name, in pipeline order (`total_ms` is not a lane).
    pub fn lanes(&self) -> [(&'static str, f64); 4] {
        [
            ("extract", self.extract_ms),
            ("chunk", self.chunk_ms),
            ("embed", self.embed_ms),
            ("index", self.index_ms),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tenant: String,
    pub doc_id: String,
    pub source: String,
    pub content_sha256: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub pages: u64,
    /// Pages whose text came from OCR.
    #[serde(default)]
    pub ocr_pages: u64,
    pub chunks: u64,
    pub tokens: u64,
    pub points: u64,
    pub model: String,
    pub dims: usize,
    pub pipeline_version: String,
    pub docfleet_version: String,
    pub timings: LaneTimings,
    /// Keys of the other artifacts of this version.
    pub artifacts: Vec<String>,
    /// Seconds since the Unix epoch.
    pub completed_at_unix_secs: u64,
    /// The tenant profile version the document was processed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_version: Option<i64>,
    /// The profile's PII mode (`detect`, `redact`) and the matches per type; absent when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<PiiSummary>,
}

/// What the PII lane found in a document (never the matched text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiSummary {
    pub mode: crate::pii::PiiMode,
    /// Matches per type (`email`, `phone`, `iban`, `card`, `ssn`, `ip`, custom names).
    pub counts: crate::pii::PiiCounts,
}

pub fn key(doc: &DocIdentity, name: &str) -> Result<ObjectKey> {
    ObjectKey::artifact(&doc.tenant, &doc.doc_id, &doc.content_sha256, name)
}

impl Manifest {
    /// Keys of every artifact of this version, the manifest's own last.
    pub fn all_artifact_keys(&self) -> Result<Vec<String>> {
        let own = ObjectKey::artifact(
            &self.tenant,
            &self.doc_id,
            &self.content_sha256,
            MANIFEST_FILE,
        )?;
        let mut keys = self.artifacts.clone();
        keys.push(own.to_string());
        Ok(keys)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::store_caused_by("serialise", e, false))
}

/// Writes `text.json` and `chunks.jsonl`; returns their keys.
pub async fn write_text_and_chunks(
    store: &dyn ObjectStore,
    doc: &DocIdentity,
    text: &ExtractedText,
    chunks: &[Chunk],
) -> Result<Vec<ObjectKey>> {
    let text_key = key(doc, TEXT_FILE)?;
    store.put(&text_key, to_json(text)?).await?;

    let mut lines = Vec::with_capacity(chunks.iter().map(|c| c.text.len() + 128).sum());
    for chunk in chunks {
        serde_json::to_writer(&mut lines, chunk)
            .map_err(|e| Error::store_caused_by("serialise chunk", e, false))?;
        lines.push(b'\n');
    }
    let chunks_key = key(doc, CHUNKS_FILE)?;
    store.put(&chunks_key, lines).await?;
    Ok(vec![text_key, chunks_key])
}

pub async fn write_manifest(
    store: &dyn ObjectStore,
    doc: &DocIdentity,
    manifest: &Manifest,
) -> Result<ObjectKey> {
    let k = key(doc, MANIFEST_FILE)?;
    store.put(&k, to_json(manifest)?).await?;
    Ok(k)
}

pub async fn read_manifest(store: &dyn ObjectStore, doc: &DocIdentity) -> Result<Option<Manifest>> {
    let k = key(doc, MANIFEST_FILE)?;
    if store.head(&k).await?.is_none() {
        return Ok(None);
    }
    let bytes = store.get(&k).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::store_caused_by(format!("{k}: unreadable manifest"), e, false))
}
