//! The Qdrant server index (gRPC, qdrant-client): the same [`VectorIndex`] contract as the
//! embedded index. Point ids are UUIDv5(tenant, doc_id, chunk_index), so writes overwrite instead
//! of duplicating; upserts wait until applied; stale chunks are deleted by filter; every read
//! carries the tenant condition.
//!
//! Layout: named vectors `dense` (the embedding, cosine) and the sparse `bm25` (BM25 document
//! weights, IDF applied by the server): dense, keyword and hybrid search (RRF fused on the
//! server where that ranks as the embedded index does), filters on every [`Filter`] field and
//! facets over payload indexes. See docs/qdrant-hybrid.md.
//!
//! Tenancy: `shared` (default, as Qdrant recommends): one collection, `tenant` a payload index
//! with `is_tenant`, every request filtered by it. `per-tenant`: a collection
//! `<collection>_<tenant>` each, created on the tenant's first write; reads are still filtered.

mod answers;
mod collections;
mod config;
mod errors;
mod facets;
pub mod filters;
mod layout;
mod payload;
mod requests;
#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use qdrant_client::qdrant::facet_value::Variant;
use qdrant_client::qdrant::{PointId, QueryPoints, RetrievedPoint};
use qdrant_client::{Qdrant, QdrantError};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::answers::{bad_payload, hits, server_fused};
pub use self::config::{QdrantConfig, Tenancy};
use self::errors::{QdrantFailure, is_not_found, with_retries};
use crate::index::{
    DocVersion, Facets, Filter, Fusion, Point, SearchHit, TenantStats, VectorIndex, VersionKey,
    fuse_here,
};
use crate::{Error, Result};

pub struct QdrantIndex {
    client: Qdrant,
    cfg: QdrantConfig,
    /// Set by `ensure_collection`: per-tenant collections are created with it on first write.
    dims: OnceLock<u64>,
    /// Collections checked (or created) in this process, with their payload indexes.
    ready: Mutex<HashSet<String>>,
}

impl QdrantIndex {
    /// A client for `cfg.url`; it connects on the first request.
    pub fn connect(cfg: QdrantConfig) -> Result<Self> {
        let client = Qdrant::from_url(&cfg.url)
            .api_key(cfg.api_key.clone())
            .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.clamp(1, 10)))
            .skip_compatibility_check()
            .build()
            .map_err(|e| {
                Error::index_caused_by(format!("Qdrant URL {:?}", cfg.url), QdrantFailure(e), false)
            })?;
        Ok(Self {
            client,
            cfg,
            dims: OnceLock::new(),
            ready: Mutex::new(HashSet::new()),
        })
    }

    fn collection(&self, tenant: &str) -> String {
        match self.cfg.tenancy {
            Tenancy::Shared => self.cfg.collection.clone(),
            Tenancy::PerTenant => format!("{}_{tenant}", self.cfg.collection),
        }
    }

    fn error(&self, what: &str, e: QdrantError) -> Error {
        errors::to_error(what, &self.cfg.url, e)
    }

    /// One request with retries, its failure as the pipeline's error.
    async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        with_retries(what, self.cfg.max_attempts, op)
            .await
            .map_err(|e| self.error(what, e))
    }

    /// Like [`Self::call`], for reads: a collection that does not exist yet holds nothing.
    async fn read<T: Default, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        match with_retries(what, self.cfg.max_attempts, op).await {
            Err(e) if is_not_found(&e) => Ok(T::default()),
            other => other.map_err(|e| self.error(what, e)),
        }
    }

    /// Runs a query; a collection that does not exist yet has no hits.
    async fn query(&self, name: &str, req: QueryPoints) -> Result<Vec<SearchHit>> {
        let resp = self
            .read("query", || async {
                self.client.query(req.clone()).await.map(Some)
            })
            .await?;
        resp.map_or_else(|| Ok(Vec::new()), |r| hits(name, &r.result))
    }

    /// Documents per value of `media_type` and `tag_pairs`, exact, over the documents' first
    /// chunks.
    async fn facet_hits(
        &self,
        req: qdrant_client::qdrant::FacetCounts,
    ) -> Result<Vec<qdrant_client::qdrant::FacetHit>> {
        let resp = self
            .read("facet", || async {
                self.client.facet(req.clone()).await.map(Some)
            })
            .await?;
        Ok(resp.map(|r| r.hits).unwrap_or_default())
    }

    async fn upsert_tenant(&self, tenant: &str, points: &[Point]) -> Result<()> {
        let name = self.writable(tenant).await?;
        let permits = Arc::new(Semaphore::new(self.cfg.upsert_parallelism.max(1)));
        let mut inflight = JoinSet::new();
        for req in requests::upsert_batches(&name, points, self.cfg.upsert_batch_points) {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .map_err(|e| Error::index_caused_by("Qdrant upsert", e, true))?;
            let client = self.client.clone();
            let attempts = self.cfg.max_attempts;
            inflight.spawn(async move {
                let _permit = permit;
                with_retries("upsert", attempts, || client.upsert_points(req.clone())).await
            });
        }
        // On the first failure the rest are dropped (aborted): upserts are idempotent, and the
        // job's retry writes every point again.
        while let Some(done) = inflight.join_next().await {
            done.map_err(|e| Error::index_caused_by("Qdrant upsert task", e, true))?
                .map_err(|e| self.error("upsert", e))?;
        }
        Ok(())
    }

    /// Every page of a scroll, handed to `each`.
    async fn scroll_all(
        &self,
        what: &str,
        request: impl Fn(Option<PointId>) -> qdrant_client::qdrant::ScrollPoints,
        mut each: impl FnMut(&RetrievedPoint) -> Result<()>,
    ) -> Result<()> {
        let mut offset = None;
        loop {
            let req = request(offset.take());
            let page = self
                .read(what, || async {
                    self.client.scroll(req.clone()).await.map(Some)
                })
                .await?;
            let Some(page) = page else { return Ok(()) };
            for p in &page.result {
                each(p)?;
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn tenant_stats(&self, name: &str, tenant: &str, points: u64) -> Result<TenantStats> {
        let mut stats = TenantStats {
            tenant: tenant.to_owned(),
            points,
            ..TenantStats::default()
        };
        self.scroll_all(
            "scroll",
            |offset| requests::scroll_doc_heads(name, tenant, offset),
            |p| {
                stats.documents += 1;
                stats.chunks += u64::from(
                    payload::int(&p.payload, payload::CHUNK_COUNT).map_err(bad_payload(name))?,
                );
                Ok(())
            },
        )
        .await?;
        Ok(stats)
    }

    async fn count(&self, name: &str, filter: qdrant_client::qdrant::Filter) -> Result<u64> {
        let req = requests::count(name, filter);
        let resp = self
            .read("count", || async {
                self.client.count(req.clone()).await.map(Some)
            })
            .await?;
        Ok(resp.and_then(|r| r.result).map_or(0, |r| r.count))
    }
}

#[async_trait]
impl VectorIndex for QdrantIndex {
    async fn ensure_collection(&self, dims: usize) -> Result<()> {
        let dims = u64::try_from(dims).unwrap_or(u64::MAX);
        if dims == 0 {
            return Err(Error::index("ensure_collection: dims must be > 0", false));
        }
        let have = *self.dims.get_or_init(|| dims);
        if have != dims {
            return Err(Error::index(
                format!("Qdrant index already set up for {have}-dim vectors, not {dims}"),
                false,
            ));
        }
        let health = self
            .call("health_check", || self.client.health_check())
            .await?;
        tracing::info!(url = %self.cfg.url, version = %health.version, "Qdrant server reachable");
        match self.cfg.tenancy {
            Tenancy::Shared => self.ensure(&self.cfg.collection, dims).await,
            Tenancy::PerTenant => Ok(()),
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<()> {
        let mut by_tenant: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for p in points {
            by_tenant
                .entry(p.payload.tenant.clone())
                .or_default()
                .push(p);
        }
        for (tenant, points) in by_tenant {
            self.upsert_tenant(&tenant, &points).await?;
        }
        Ok(())
    }

    async fn delete_doc_except(
        &self,
        tenant: &str,
        doc_id: &str,
        keep: &VersionKey,
    ) -> Result<u64> {
        let name = self.collection(tenant);
        let filter = filters::stale(tenant, doc_id, keep);
        let stale = self.count(&name, filter.clone()).await?;
        if stale == 0 {
            return Ok(0);
        }
        let req = requests::delete(&name, filter);
        self.call("delete", || self.client.delete_points(req.clone()))
            .await?;
        Ok(stale)
    }

    async fn doc_versions(&self, tenant: &str, doc_id: &str) -> Result<Vec<DocVersion>> {
        let name = self.collection(tenant);
        let mut versions: HashMap<VersionKey, (u32, u64)> = HashMap::new();
        self.scroll_all(
            "scroll",
            |offset| requests::scroll_versions(&name, tenant, doc_id, offset),
            |p| {
                let field = |k| payload::string(&p.payload, k).map_err(bad_payload(&name));
                let key = VersionKey {
                    content_sha256: field(payload::CONTENT_SHA256)?,
                    pipeline_version: field(payload::PIPELINE_VERSION)?,
                };
                let chunks =
                    payload::int(&p.payload, payload::CHUNK_COUNT).map_err(bad_payload(&name))?;
                let entry = versions.entry(key).or_insert((chunks, 0));
                entry.1 += 1;
                Ok(())
            },
        )
        .await?;
        let mut out: Vec<DocVersion> = versions
            .into_iter()
            .map(|(key, (chunk_count, points))| DocVersion {
                key,
                chunk_count,
                points,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.key.content_sha256, &a.key.pipeline_version)
                .cmp(&(&b.key.content_sha256, &b.key.pipeline_version))
        });
        Ok(out)
    }

    async fn search(&self, query: &[f32], filter: &Filter, top_k: usize) -> Result<Vec<SearchHit>> {
        if top_k == 0 {
            return Ok(Vec::new());
        }
        let name = self.collection(&filter.tenant);
        self.query(&name, requests::search(&name, query, filter, top_k))
            .await
    }

    async fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        top_k: usize,
    ) -> Result<Vec<SearchHit>> {
        let Some(terms) = requests::sparse_query(text).filter(|_| top_k > 0) else {
            return Ok(Vec::new());
        };
        let name = self.collection(&filter.tenant);
        self.query(
            &name,
            requests::keyword_search(&name, &terms, filter, top_k),
        )
        .await
    }

    /// Fused on the server (one Query API request: dense and sparse prefetches, RRF) where its
    /// ranking is the client-side one ([`requests::server_rrf_k`]: equal weights); otherwise
    /// the two lists are fetched and fused here, as the trait's default does.
    async fn hybrid_search(
        &self,
        query: &[f32],
        text: &str,
        filter: &Filter,
        top_k: usize,
        fusion: &Fusion,
    ) -> Result<Vec<SearchHit>> {
        if top_k == 0 {
            return Ok(Vec::new());
        }
        if let (Some(terms), Some(rrf_k)) =
            (requests::sparse_query(text), requests::server_rrf_k(fusion))
        {
            let candidates = fusion.candidates.max(top_k);
            let name = self.collection(&filter.tenant);
            let req = requests::hybrid_search(&name, query, &terms, filter, candidates, rrf_k);
            let fused = self.query(&name, req).await?;
            return Ok(server_fused(fused, fusion.dense_weight, top_k));
        }
        // No query terms (keyword_search then answers nothing), or unequal weights.
        fuse_here(self, query, text, filter, top_k, fusion).await
    }

    async fn facets(&self, filter: &Filter, limit: usize) -> Result<Facets> {
        if limit == 0 {
            return Ok(Facets::default());
        }
        let name = self.collection(&filter.tenant);
        let [media, tags] = facets::facet_requests(&name, filter, limit);
        let media = self.facet_hits(media).await?;
        let tags = self.facet_hits(tags).await?;
        Ok(facets::facets(&media, &tags, limit))
    }

    async fn stats(&self) -> Result<Vec<TenantStats>> {
        let mut out = Vec::new();
        match self.cfg.tenancy {
            Tenancy::Shared => {
                let name = &self.cfg.collection;
                let req = facets::tenant_facet(name);
                let facet = self
                    .read("facet", || async {
                        self.client.facet(req.clone()).await.map(Some)
                    })
                    .await?;
                for hit in facet.map(|f| f.hits).unwrap_or_default() {
                    if let Some(Variant::StringValue(tenant)) = hit.value.and_then(|v| v.variant) {
                        out.push(self.tenant_stats(name, &tenant, hit.count).await?);
                    }
                }
            }
            Tenancy::PerTenant => {
                let prefix = format!("{}_", self.cfg.collection);
                let list = self
                    .call("list_collections", || self.client.list_collections())
                    .await?;
                for c in list.collections {
                    let Some(tenant) = c.name.strip_prefix(&prefix) else {
                        continue;
                    };
                    let scope = filters::scope(&Filter::tenant(tenant));
                    let points = self.count(&c.name, scope).await?;
                    if points > 0 {
                        out.push(self.tenant_stats(&c.name, tenant, points).await?);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tenancy: Tenancy) -> QdrantConfig {
        QdrantConfig {
            url: "http://127.0.0.1:1".into(),
            api_key: Some("k".into()),
            collection: "docs".into(),
            tenancy,
            upsert_batch_points: 128,
            upsert_parallelism: 4,
            timeout_secs: 1,
            max_attempts: 1,
        }
    }

    #[test]
    fn tenancy_decides_the_collection() {
        let shared = QdrantIndex::connect(cfg(Tenancy::Shared)).unwrap();
        assert_eq!(shared.collection("acme"), "docs");
        let own = QdrantIndex::connect(cfg(Tenancy::PerTenant)).unwrap();
        assert_eq!(own.collection("acme"), "docs_acme");
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let shown = format!("{:?}", cfg(Tenancy::Shared));
        assert!(shown.contains("***") && !shown.contains("\"k\""), "{shown}");
    }

    #[test]
    fn a_bad_url_is_a_clear_permanent_error() {
        let e = QdrantIndex::connect(QdrantConfig {
            url: "not a url".into(),
            ..cfg(Tenancy::Shared)
        })
        .err()
        .unwrap();
        assert!(!e.is_retryable());
        assert!(e.report().to_string().contains("not a url"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_retryably_and_names_the_url() {
        let index = QdrantIndex::connect(cfg(Tenancy::Shared)).unwrap();
        let e = index.ensure_collection(4).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("http://127.0.0.1:1"), "{e}");
    }

    #[tokio::test]
    async fn writes_before_ensure_collection_are_refused() {
        let index = QdrantIndex::connect(cfg(Tenancy::PerTenant)).unwrap();
        let e = index.writable("acme").await.unwrap_err();
        assert!(e.to_string().contains("ensure_collection"), "{e}");
    }
}
