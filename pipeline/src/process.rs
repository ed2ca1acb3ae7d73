//! One document through the four lanes, with the idempotent writes that make at-least-once
//! delivery safe: artifacts first, then vectors (overwriting by deterministic point id), then
//! the removal of older versions' points, then the manifest that marks the version complete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::Empty;
use tracing::{Instrument, debug, info_span};

use crate::artifacts::{self, ExtractedText, LaneTimings, Manifest, PiiSummary};
use crate::chunk::Chunker;
use crate::embed_lane::EmbedLane;
use crate::extract::{ExtractOptions, Extractor, sniff};
use crate::index::{ChunkPayload, Point, SpanInfo, VectorIndex, VersionKey};
use crate::pii::{PiiMode, PiiScanner};
use crate::store::ObjectStore;
use crate::{DocIdentity, Error, Page, Result, version};

/// Points per upsert call: large enough to amortise the index's fsync or round trip.
const UPSERT_BATCH: usize = 256;

/// A document to process: where it came from and its bytes.
#[derive(Debug, Clone)]
pub struct DocJob {
    pub tenant: String,
    /// Stable URI of the source (`file:///abs/path`, `s3://bucket/key`): the doc's identity.
    pub source: String,
    /// File name, used as a hint for the media type (content decides).
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
    /// Stored with every chunk (filters, facets); part of the version, so new tags re-index.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new version was indexed.
    Indexed(Box<Manifest>),
    /// The same bytes were already indexed with the same pipeline version: that version's
    /// manifest.
    Unchanged(Box<Manifest>),
}

/// Everything one document needs, shared by all in-flight documents.
#[derive(Clone)]
pub struct Processor {
    pub extractor: Arc<dyn Extractor>,
    pub chunker: Arc<dyn Chunker>,
    pub embed: EmbedLane,
    pub index: Arc<dyn VectorIndex>,
    pub store: Arc<dyn ObjectStore>,
    pub model_id: String,
    pub dims: usize,
    pub pipeline_version: String,
    pub max_file_bytes: u64,
    /// Travel with each document to the extractor (a tenant profile's OCR settings, page cap).
    pub extract_options: ExtractOptions,
    /// The PII lane, between extract and chunk; `None` (or mode off) skips it.
    pub pii: Option<PiiStage>,
    /// The tenant profile version, recorded in the manifest.
    pub profile_version: Option<i64>,
}

/// The PII lane's settings: what to look for, and whether to count or redact.
#[derive(Clone)]
pub struct PiiStage {
    pub mode: PiiMode,
    pub scanner: Arc<PiiScanner>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// `f` on a blocking thread, inside the caller's span (its logs and child spans stay in the trace).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(format!("worker thread failed: {e}"))))?
}

impl Processor {
    pub async fn process(&self, job: DocJob) -> Result<Outcome> {
        let size_bytes = job.bytes.len() as u64;
        crate::size_cap::check_size(size_bytes, self.max_file_bytes)?;
        if size_bytes == 0 {
            return Err(Error::EmptyFile);
        }
        let doc = DocIdentity::new(&job.tenant, &job.source, &job.bytes);
        let span = info_span!("document", doc_id = %doc.doc_id, tenant = %doc.tenant,
                              source = %doc.source, size_bytes, unchanged = Empty);
        self.process_doc(job, doc).instrument(span).await
    }

    async fn process_doc(&self, job: DocJob, doc: DocIdentity) -> Result<Outcome> {
        let started = Instant::now();
        let pipeline_version = version::with_tags(&self.pipeline_version, &job.tags);
        let keep = VersionKey {
            content_sha256: doc.content_sha256.clone(),
            pipeline_version: pipeline_version.clone(),
        };
        let tags = job.tags.clone();
        if let Some(manifest) = self.complete_version(&doc, &keep).await? {
            tracing::Span::current().record("unchanged", true);
            debug!("unchanged, skipped");
            return Ok(Outcome::Unchanged(Box::new(manifest)));
        }
        let size_bytes = job.bytes.len() as u64;
        let media_type = sniff(&job.bytes, job.file_name.as_deref())?;

        let t = Instant::now();
        let extractor = self.extractor.clone();
        let options = self.extract_options.clone();
        let lane = info_span!(
            "extract",
            media_type = media_type.as_str(),
            pages = Empty,
            ocr_pages = Empty
        );
        let pages =
            blocking(move || extractor.extract_with_options(&job.bytes, media_type, &options))
                .instrument(lane.clone())
                .await?;
        lane.record("pages", pages.len());
        lane.record(
            "ocr_pages",
            pages.iter().filter(|p| p.ocr_confidence.is_some()).count(),
        );
        let extract_ms = ms(t);
        let (pages, pii) = self.scan_pii(pages).await?;

        let t = Instant::now();
        let chunker = self.chunker.clone();
        let lane = info_span!("chunk", chunks = Empty, tokens = Empty);
        let (pages, chunks) = blocking(move || chunker.chunk(&pages).map(|c| (pages, c)))
            .instrument(lane.clone())
            .await?;
        if chunks.is_empty() {
            return Err(Error::NoText("the extracted text holds no tokens".into()));
        }
        let tokens: u64 = chunks.iter().map(|c| u64::from(c.token_count)).sum();
        lane.record("chunks", chunks.len());
        lane.record("tokens", tokens);
        let chunk_ms = ms(t);

        let t = Instant::now();
        let lane = info_span!("embed", model = %self.model_id, chunks = chunks.len(), tokens);
        let vectors = self
            .embed
            .embed(chunks.iter().map(|c| c.text.clone()).collect())
            .instrument(lane)
            .await?;
        let embed_ms = ms(t);

        let t = Instant::now();
        let text = ExtractedText {
            doc_id: doc.doc_id.clone(),
            source: doc.source.clone(),
            media_type: media_type.as_str().to_owned(),
            pages,
        };
        let artifact_keys =
            artifacts::write_text_and_chunks(self.store.as_ref(), &doc, &text, &chunks)
                .instrument(info_span!("artifacts", chunks = chunks.len()))
                .await?;
        let chunk_count =
            u32::try_from(chunks.len()).map_err(|_| Error::Chunking("too many chunks".into()))?;
        let points: Vec<Point> = chunks
            .into_iter()
            .zip(vectors)
            .map(|(chunk, vector)| {
                let span = SpanInfo::of(&text.pages, chunk.page_start, chunk.page_end);
                Point {
                    id: doc.point_id(chunk.index),
                    vector,
                    payload: ChunkPayload {
                        tenant: doc.tenant.clone(),
                        doc_id: doc.doc_id.clone(),
                        source: doc.source.clone(),
                        content_sha256: doc.content_sha256.clone(),
                        chunk_index: chunk.index,
                        chunk_count,
                        page_start: chunk.page_start,
                        page_end: chunk.page_end,
                        page_label: span.page_label,
                        ocr_pages: span.ocr_pages,
                        ocr_confidence: span.ocr_confidence,
                        media_type: media_type.as_str().to_owned(),
                        tags: tags.clone(),
                        text: chunk.text,
                        model: self.model_id.clone(),
                        pipeline_version: pipeline_version.clone(),
                    },
                }
            })
            .collect();
        let point_count = points.len() as u64;
        let lane = info_span!("index", points = point_count, stale = Empty);
        let stale = self
            .write_points(points, &doc, &keep)
            .instrument(lane.clone())
            .await?;
        lane.record("stale", stale);
        let index_ms = ms(t);

        let manifest = Manifest {
            tenant: doc.tenant.clone(),
            doc_id: doc.doc_id.clone(),
            source: doc.source.clone(),
            content_sha256: doc.content_sha256.clone(),
            media_type: media_type.as_str().to_owned(),
            size_bytes,
            pages: text.pages.len() as u64,
            ocr_pages: text
                .pages
                .iter()
                .filter(|p| p.ocr_confidence.is_some())
                .count() as u64,
            chunks: u64::from(chunk_count),
            tokens,
            points: point_count,
            model: self.model_id.clone(),
            dims: self.dims,
            pipeline_version: pipeline_version.clone(),
            docfleet_version: env!("CARGO_PKG_VERSION").to_owned(),
            timings: LaneTimings {
                extract_ms,
                chunk_ms,
                embed_ms,
                index_ms,
                total_ms: ms(started),
            },
            artifacts: artifact_keys.iter().map(ToString::to_string).collect(),
            completed_at_unix_secs: docfleet_core::time::now_unix_secs(),
            profile_version: self.profile_version,
            pii,
        };
        artifacts::write_manifest(self.store.as_ref(), &doc, &manifest).await?;
        Ok(Outcome::Indexed(Box::new(manifest)))
    }

    /// The PII lane: counts (detect) or replaces (redact) PII in the pages' text before anything
    /// is chunked, embedded or stored, so a match cut by a chunk boundary is still found and
    /// overlapping chunks do not count a match twice. Logs counts only, never the text.
    async fn scan_pii(&self, pages: Vec<Page>) -> Result<(Vec<Page>, Option<PiiSummary>)> {
        let Some(stage) = self.pii.clone().filter(|s| s.mode != PiiMode::Off) else {
            return Ok((pages, None));
        };
        let lane = info_span!("pii", mode = stage.mode.as_str(), matches = Empty);
        let (pages, counts) = blocking(move || {
            let mut pages = pages;
            let counts = crate::pii::apply_to_pages(&stage.scanner, stage.mode, &mut pages);
            Ok((pages, counts))
        })
        .instrument(lane.clone())
        .await?;
        lane.record("matches", counts.values().sum::<u64>());
        Ok((
            pages,
            Some(PiiSummary {
                mode: stage.mode,
                counts,
            }),
        ))
    }

    /// Upserts the version's points, then removes every other version's: returns how many.
    async fn write_points(
        &self,
        points: Vec<Point>,
        doc: &DocIdentity,
        keep: &VersionKey,
    ) -> Result<u64> {
        let mut points = points.into_iter().peekable();
        while points.peek().is_some() {
            self.index
                .upsert(points.by_ref().take(UPSERT_BATCH).collect())
                .await?;
        }
        let stale = self
            .index
            .delete_doc_except(&doc.tenant, &doc.doc_id, keep)
            .await?;
        debug!(stale, "older versions' points removed");
        Ok(stale)
    }

    /// The manifest when this exact version is fully indexed (every chunk's point present, no
    /// other version's points left) and its manifest written; `None` when work remains.
    async fn complete_version(
        &self,
        doc: &DocIdentity,
        keep: &VersionKey,
    ) -> Result<Option<Manifest>> {
        let versions = self.index.doc_versions(&doc.tenant, &doc.doc_id).await?;
        let [only] = versions.as_slice() else {
            return Ok(None);
        };
        if only.key != *keep || only.points != u64::from(only.chunk_count) {
            return Ok(None);
        }
        let manifest = artifacts::read_manifest(self.store.as_ref(), doc).await?;
        Ok(manifest.filter(|m| {
            m.pipeline_version == keep.pipeline_version && m.content_sha256 == keep.content_sha256
        }))
    }
}
