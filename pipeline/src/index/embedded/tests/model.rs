//! Randomised model test: the index against a `HashMap` across upserts, deletes, compactions and
//! reopens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::index::ChunkPayload;

const DIMS: usize = 5;
const TENANTS: [&str; 2] = ["t1", "t2"];
const DOCS: [&str; 3] = ["a", "b", "c"];
const SHAS: [&str; 2] = ["s1", "s2"];

#[derive(Debug, Clone)]
enum Step {
    Upsert(Vec<(usize, usize, u32, usize, [i8; DIMS])>),
    Delete {
        tenant: usize,
        doc: usize,
        keep: usize,
    },
    Reopen,
    Compact,
}

fn step() -> impl Strategy<Value = Step> {
    let chunk = (
        0..2usize,
        0..3usize,
        0..4u32,
        0..2usize,
        any::<[i8; DIMS]>(),
    );
    prop_oneof![
        5 => prop::collection::vec(chunk, 1..5).prop_map(Step::Upsert),
        2 => (0..2usize, 0..3usize, 0..2usize)
            .prop_map(|(tenant, doc, keep)| Step::Delete { tenant, doc, keep }),
        1 => Just(Step::Reopen),
        1 => Just(Step::Compact),
    ]
}

fn payload(tenant: usize, doc: usize, idx: u32, sha: usize) -> ChunkPayload {
    ChunkPayload {
        tenant: TENANTS[tenant].into(),
        doc_id: DOCS[doc].into(),
        source: "s".into(),
        content_sha256: SHAS[sha].into(),
        chunk_index: idx,
        // Differs per version so stats must group by version.
        chunk_count: 4 + sha as u32,
        page_start: 1,
        page_end: 1,
        media_type: "application/pdf".into(),
        text: format!("{idx}"),
        model: "m".into(),
        pipeline_version: "p".into(),
        ..ChunkPayload::default()
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

type Model = HashMap<Uuid, (ChunkPayload, Vec<f32>)>;

async fn check(idx: &EmbeddedIndex, model: &Model) {
    // Stats.
    let mut want: BTreeMap<String, TenantStats> = BTreeMap::new();
    let mut versions: BTreeMap<(String, String), BTreeMap<String, (u32, u64)>> = BTreeMap::new();
    for (p, _) in model.values() {
        let v = versions
            .entry((p.tenant.clone(), p.doc_id.clone()))
            .or_default();
        let e = v.entry(p.content_sha256.clone()).or_default();
        e.0 = e.0.max(p.chunk_count);
        e.1 += 1;
    }
    for ((tenant, _), v) in &versions {
        let s = want.entry(tenant.clone()).or_insert_with(|| TenantStats {
            tenant: tenant.clone(),
            ..Default::default()
        });
        s.documents += 1;
        s.chunks += v.values().map(|c| u64::from(c.0)).sum::<u64>();
        s.points += v.values().map(|c| c.1).sum::<u64>();
    }
    assert_eq!(
        idx.stats().await.unwrap(),
        want.into_values().collect::<Vec<_>>()
    );
    // Versions and search per document and tenant.
    let query = [0.3, -0.2, 0.9, 0.1, -0.5];
    for tenant in TENANTS {
        for doc in DOCS {
            let got = idx.doc_versions(tenant, doc).await.unwrap();
            let want = versions
                .get(&(tenant.into(), doc.into()))
                .cloned()
                .unwrap_or_default();
            let want: Vec<DocVersion> = want
                .into_iter()
                .map(|(sha, (chunk_count, points))| DocVersion {
                    key: VersionKey {
                        content_sha256: sha,
                        pipeline_version: "p".into(),
                    },
                    chunk_count,
                    points,
                })
                .collect();
            assert_eq!(got, want);
        }
        let filter = Filter {
            tenant: tenant.into(),
            ..Filter::default()
        };
        let hits = idx.search(&query, &filter, 1000).await.unwrap();
        let got: BTreeSet<Uuid> = hits.iter().map(|h| h.id).collect();
        let want: BTreeSet<Uuid> = model
            .iter()
            .filter(|(_, (p, _))| p.tenant == tenant)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(got, want);
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
        for h in &hits {
            let (p, v) = &model[&h.id];
            assert_eq!(&h.payload, p);
            assert!((h.score - cosine(&query, v)).abs() < 1e-4);
        }
        // Keyword: the chunks whose text (`{idx}`) is one of the query's terms, no stale ones.
        let hits = idx.keyword_search("0 2 x", &filter, 1000).await.unwrap();
        let got: BTreeSet<Uuid> = hits.iter().map(|h| h.id).collect();
        let want: BTreeSet<Uuid> = model
            .iter()
            .filter(|(_, (p, _))| p.tenant == tenant && (p.text == "0" || p.text == "2"))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(got, want, "keyword hits of {tenant}");
        assert!(
            hits.iter()
                .all(|h| h.score > 0.0 && model[&h.id].0 == h.payload)
        );
    }
}

async fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        compact_min_dead_bytes: 2048,
    };
    let mut idx = EmbeddedIndex::open_with(dir.path(), options.clone()).unwrap();
    idx.ensure_collection(DIMS).await.unwrap();
    let mut model = Model::new();
    for step in steps {
        match step {
            Step::Upsert(chunks) => {
                let mut points = Vec::new();
                for (tenant, doc, ci, sha, v) in chunks {
                    let vector: Vec<f32> = v.iter().map(|&x| f32::from(x)).collect();
                    let id = crate::doc::point_id(TENANTS[tenant], DOCS[doc], ci);
                    let payload = payload(tenant, doc, ci, sha);
                    model.insert(id, (payload.clone(), vector.clone()));
                    points.push(Point {
                        id,
                        vector,
                        payload,
                    });
                }
                idx.upsert(points).await.unwrap();
            }
            Step::Delete { tenant, doc, keep } => {
                let keep_key = VersionKey {
                    content_sha256: SHAS[keep].into(),
                    pipeline_version: "p".into(),
                };
                let before = model.len();
                model.retain(|_, (p, _)| {
                    p.tenant != TENANTS[tenant]
                        || p.doc_id != DOCS[doc]
                        || p.content_sha256 == SHAS[keep]
                });
                let n = idx
                    .delete_doc_except(TENANTS[tenant], DOCS[doc], &keep_key)
                    .await
                    .unwrap();
                assert_eq!(n, (before - model.len()) as u64);
            }
            Step::Reopen => {
                drop(idx);
                idx = EmbeddedIndex::open_with(dir.path(), options.clone()).unwrap();
            }
            Step::Compact => idx.compact().unwrap(),
        }
        check(&idx, &model).await;
    }
    drop(idx);
    let ro = EmbeddedIndex::open_read_only(dir.path()).unwrap();
    check(&ro, &model).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_a_hashmap_model(steps in prop::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run(steps));
    }
}
