//! The `VectorIndex` contract cases, each a function of any index: [`writes`] (upserts,
//! versions, stats, deletes) and [`search`] (keyword, hybrid, filters, facets) on the corpus of
//! [`corpus`]. The helpers here are shared by them and by the backends' runners.

pub mod corpus;
pub mod search;
pub mod writes;

use docfleet_pipeline::index::{Filter, SearchHit, VersionKey};

pub const DIMS: usize = 8;

/// A unit-ish vector pointing mostly along axis `i`.
pub fn vector(i: usize) -> Vec<f32> {
    (0..DIMS)
        .map(|d| {
            if d == i % DIMS {
                1.0
            } else {
                0.01 * (d + 1) as f32
            }
        })
        .collect()
}

pub fn version(sha: &str) -> VersionKey {
    VersionKey {
        content_sha256: sha.repeat(64 / sha.len()),
        pipeline_version: "p1".into(),
    }
}

pub fn scope(tenant: &str) -> Filter {
    Filter::tenant(tenant)
}

/// (source, chunk index) of each hit: readable and the same on every backend.
pub fn names(hits: &[SearchHit]) -> Vec<(String, u32)> {
    hits.iter()
        .map(|h| (h.payload.source.clone(), h.payload.chunk_index))
        .collect()
}

pub fn name(source: &str, chunk: u32) -> (String, u32) {
    (source.to_owned(), chunk)
}
