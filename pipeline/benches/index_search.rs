//! Exact search in the embedded index: 20,000 points of 384 dimensions in one tenant (plus
//! 20,000 in another, filtered out), top 10, queries/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::{ChunkPayload, Filter, Point, VectorIndex};
use uuid::Uuid;

const DIMS: usize = 384;
const POINTS_PER_TENANT: usize = 20_000;

fn unit_vector(next: &mut impl FnMut() -> f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIMS).map(|_| next()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let index = EmbeddedIndex::open(dir.path()).expect("open");
    let mut state = 1u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    rt.block_on(async {
        index.ensure_collection(DIMS).await.expect("collection");
        for tenant in ["acme", "globex"] {
            for doc in 0..POINTS_PER_TENANT / 100 {
                let points = (0..100u32)
                    .map(|i| Point {
                        id: Uuid::new_v4(),
                        vector: unit_vector(&mut next),
                        payload: ChunkPayload {
                            tenant: tenant.into(),
                            doc_id: format!("doc-{doc}"),
                            source: format!("file:///docs/{doc}.pdf"),
                            content_sha256: "0".repeat(64),
                            chunk_index: i,
                            chunk_count: 100,
                            page_start: 1,
                            page_end: 1,
                            media_type: "application/pdf".into(),
                            text: "a chunk of text about nothing in particular".into(),
                            model: "bench".into(),
                            pipeline_version: "bench".into(),
                            ..ChunkPayload::default()
                        },
                    })
                    .collect();
                index.upsert(points).await.expect("upsert");
            }
        }
    });
    let filter = Filter::tenant("acme");
    let query = unit_vector(&mut next);
    let mut group = c.benchmark_group("embedded index");
    group.throughput(Throughput::Elements(1));
    group.bench_function("search top 10 of 20k x 384 (tenant filter)", |b| {
        b.iter(|| {
            rt.block_on(index.search(black_box(&query), &filter, 10))
                .expect("search")
        })
    });
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
