//! The index contents in memory: one contiguous `Vec<f32>` of normalised rows plus parallel
//! columns, and the lookups that the trait's queries need.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::codec::StoredPoint;
use crate::index::keyword::{self, InvertedIndex};
use crate::index::{ChunkPayload, DocVersion, FacetCount, Facets, Filter, TenantStats, VersionKey};

#[derive(Debug, Default)]
pub(super) struct State {
    pub dims: Option<usize>,
    /// Row-major, `dims` floats per row, L2-normalised.
    pub vectors: Vec<f32>,
    pub ids: Vec<Uuid>,
    pub payloads: Vec<ChunkPayload>,
    /// Interned tenant of each row, so the search filter compares integers.
    pub row_tenant: Vec<u32>,
    /// Encoded size of each row (compaction accounting).
    row_bytes: Vec<u64>,
    by_id: HashMap<Uuid, usize>,
    tenants: Vec<String>,
    tenant_ix: HashMap<String, u32>,
    /// (tenant index, doc_id) → the document's point ids.
    docs: HashMap<(u32, String), HashSet<Uuid>>,
    /// Sum of `row_bytes`: what a snapshot of this state takes, roughly.
    pub live_bytes: u64,
    /// BM25 postings of the rows' text: derived state, rebuilt from the payloads at open and
    /// changed wherever a row is added, overwritten or removed.
    pub keyword: InvertedIndex,
    /// While recovery replays: the keyword index is left empty and built once at the end
    /// ([`State::build_keyword`]), so replaced and deleted points cost nothing there.
    keyword_deferred: bool,
}

impl State {
    /// An empty state whose keyword index is built by [`State::build_keyword`] once loading ends.
    pub fn deferred(dims: Option<usize>) -> Self {
        Self {
            dims,
            keyword_deferred: true,
            ..Self::default()
        }
    }

    /// Builds the keyword index from every row's text (the BM25 weights computed on all cores)
    /// and keeps it up to date from now on.
    pub fn build_keyword(&mut self) {
        self.keyword_deferred = false;
        self.keyword = InvertedIndex::default();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = self.payloads.len().div_ceil(threads).max(1);
        let weights: Vec<Vec<(u32, f32)>> = std::thread::scope(|s| {
            let parts: Vec<_> = self
                .payloads
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|p| keyword::doc_weights(&p.text))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(w) => w,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        for (r, w) in weights.iter().enumerate() {
            self.keyword
                .insert(self.ids[r], &self.payloads[r].tenant, w);
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The row of a point id.
    pub fn row_of(&self, id: &Uuid) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn row(&self, r: usize) -> &[f32] {
        let d = self.dims.unwrap_or(0);
        &self.vectors[r * d..(r + 1) * d]
    }

    pub fn tenant_index(&self, tenant: &str) -> Option<u32> {
        self.tenant_ix.get(tenant).copied()
    }

    /// Rows of one document, in no particular order.
    pub fn doc_rows(&self, tenant: &str, doc_id: &str) -> Vec<usize> {
        let Some(t) = self.tenant_index(tenant) else {
            return Vec::new();
        };
        self.docs
            .get(&(t, doc_id.to_owned()))
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.by_id.get(id).copied())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn intern(&mut self, tenant: &str) -> u32 {
        if let Some(&t) = self.tenant_ix.get(tenant) {
            return t;
        }
        let t = self.tenants.len() as u32;
        self.tenants.push(tenant.to_owned());
        self.tenant_ix.insert(tenant.to_owned(), t);
        t
    }

    /// Inserts or overwrites by id. Vectors must be `dims` long and normalised (checked by the
    /// caller on the write path; trusted on replay, where the checksum vouches for them).
    pub fn upsert(&mut self, points: Vec<StoredPoint>) {
        for p in points {
            if !self.keyword_deferred {
                let weights = keyword::doc_weights(&p.payload.text);
                self.keyword.insert(p.id, &p.payload.tenant, &weights);
            }
            let t = self.intern(&p.payload.tenant);
            let doc_key = (t, p.payload.doc_id.clone());
            match self.by_id.get(&p.id).copied() {
                Some(r) => {
                    let old_key = (self.row_tenant[r], self.payloads[r].doc_id.clone());
                    if old_key != doc_key {
                        self.unlink_doc(&old_key, &p.id);
                    }
                    let d = p.vector.len();
                    self.vectors[r * d..(r + 1) * d].copy_from_slice(&p.vector);
                    self.live_bytes = self.live_bytes - self.row_bytes[r] + p.bytes;
                    self.row_bytes[r] = p.bytes;
                    self.row_tenant[r] = t;
                    self.payloads[r] = p.payload;
                }
                None => {
                    self.by_id.insert(p.id, self.ids.len());
                    self.vectors.extend_from_slice(&p.vector);
                    self.ids.push(p.id);
                    self.payloads.push(p.payload);
                    self.row_tenant.push(t);
                    self.row_bytes.push(p.bytes);
                    self.live_bytes += p.bytes;
                }
            }
            self.docs.entry(doc_key).or_default().insert(p.id);
        }
    }

    fn unlink_doc(&mut self, key: &(u32, String), id: &Uuid) {
        if let Some(ids) = self.docs.get_mut(key) {
            ids.remove(id);
            if ids.is_empty() {
                self.docs.remove(key);
            }
        }
    }

    /// The document's points whose version is not `keep`.
    pub fn stale_points(&self, tenant: &str, doc_id: &str, keep: &VersionKey) -> Vec<Uuid> {
        let mut stale: Vec<Uuid> = self
            .doc_rows(tenant, doc_id)
            .into_iter()
            .filter(|&r| {
                let p = &self.payloads[r];
                p.content_sha256 != keep.content_sha256
                    || p.pipeline_version != keep.pipeline_version
            })
            .map(|r| self.ids[r])
            .collect();
        // Deterministic removal order, so replay rebuilds identical row order.
        stale.sort_unstable();
        stale
    }

    pub fn delete_doc_except(&mut self, tenant: &str, doc_id: &str, keep: &VersionKey) -> u64 {
        let stale = self.stale_points(tenant, doc_id, keep);
        for id in &stale {
            self.remove(id);
        }
        stale.len() as u64
    }

    /// Removes one point: the last row moves into its slot.
    fn remove(&mut self, id: &Uuid) {
        let Some(r) = self.by_id.remove(id) else {
            return;
        };
        self.keyword.remove(id);
        let key = (self.row_tenant[r], self.payloads[r].doc_id.clone());
        self.unlink_doc(&key, id);
        let d = self.dims.unwrap_or(0);
        let last = self.ids.len() - 1;
        if r != last {
            self.vectors.copy_within(last * d..(last + 1) * d, r * d);
            self.by_id.insert(self.ids[last], r);
        }
        self.vectors.truncate(last * d);
        self.live_bytes -= self.row_bytes[r];
        self.ids.swap_remove(r);
        self.payloads.swap_remove(r);
        self.row_tenant.swap_remove(r);
        self.row_bytes.swap_remove(r);
    }

    /// Versions of the rows given, sorted by key.
    fn versions(&self, rows: impl IntoIterator<Item = usize>) -> Vec<DocVersion> {
        let mut by_key: BTreeMap<(&str, &str), (u32, u64)> = BTreeMap::new();
        for r in rows {
            let p = &self.payloads[r];
            let e = by_key
                .entry((&p.content_sha256, &p.pipeline_version))
                .or_default();
            e.0 = e.0.max(p.chunk_count);
            e.1 += 1;
        }
        by_key
            .into_iter()
            .map(|((sha, pv), (chunk_count, points))| DocVersion {
                key: VersionKey {
                    content_sha256: sha.to_owned(),
                    pipeline_version: pv.to_owned(),
                },
                chunk_count,
                points,
            })
            .collect()
    }

    pub fn doc_versions(&self, tenant: &str, doc_id: &str) -> Vec<DocVersion> {
        self.versions(self.doc_rows(tenant, doc_id))
    }

    /// Documents in scope (pages ignored) by media type and by `key=value` tag, the `limit` most
    /// frequent of each (count descending, then value). A document counts once, by its chunk 0;
    /// while two versions coexist, by the one written last (the higher row).
    pub fn facets(&self, filter: &Filter, limit: usize) -> Facets {
        let scope = filter.without_pages();
        let mut docs: HashMap<&str, usize> = HashMap::new();
        for (r, p) in self.payloads.iter().enumerate() {
            if p.chunk_index == 0 && scope.matches(p) {
                docs.insert(&p.doc_id, r);
            }
        }
        let mut media: HashMap<&str, u64> = HashMap::new();
        let mut tags: HashMap<String, u64> = HashMap::new();
        for &r in docs.values() {
            let p = &self.payloads[r];
            *media.entry(&p.media_type).or_default() += 1;
            for (k, v) in &p.tags {
                *tags.entry(format!("{k}={v}")).or_default() += 1;
            }
        }
        fn top(counts: impl Iterator<Item = (String, u64)>, limit: usize) -> Vec<FacetCount> {
            let mut out: Vec<FacetCount> = counts
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            out.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            out.truncate(limit);
            out
        }
        Facets {
            media_type: top(media.into_iter().map(|(v, n)| (v.to_owned(), n)), limit),
            tags: top(tags.into_iter(), limit),
        }
    }

    pub fn stats(&self) -> Vec<TenantStats> {
        let mut out: BTreeMap<&str, TenantStats> = BTreeMap::new();
        for ((t, _doc_id), ids) in &self.docs {
            let tenant = self.tenants[*t as usize].as_str();
            let rows = ids.iter().filter_map(|id| self.by_id.get(id).copied());
            let versions = self.versions(rows);
            let s = out.entry(tenant).or_insert_with(|| TenantStats {
                tenant: tenant.to_owned(),
                ..Default::default()
            });
            s.documents += 1;
            s.chunks += versions
                .iter()
                .map(|v| u64::from(v.chunk_count))
                .sum::<u64>();
            s.points += versions.iter().map(|v| v.points).sum::<u64>();
        }
        out.into_values().collect()
    }
}
