//! Dense, keyword and hybrid search in the embedded index: 100,000 chunks of one tenant (384-dim
//! random unit vectors, ~150 words each from a Zipf-like vocabulary of 30,000 words, a few rare
//! identifiers), build and reopen time (the reopen rebuilds the keyword index from the stored
//! text), then p50/p99 latency and queries/s of 500 queries per mode. Prints figures; no
//! assertions. `cargo bench -p docfleet-pipeline --bench hybrid_search`.

use std::time::{Duration, Instant};

use docfleet_pipeline::index::embedded::EmbeddedIndex;
use docfleet_pipeline::index::keyword::{self, InvertedIndex};
use docfleet_pipeline::index::{ChunkPayload, Filter, Fusion, Point, VectorIndex};
use uuid::Uuid;

const DIMS: usize = 384;
const CHUNKS: usize = 100_000;
const VOCAB: usize = 30_000;
const WORDS_PER_CHUNK: usize = 150;
const QUERIES: usize = 500;
const TOP_K: usize = 10;
const BATCH: usize = 1_000;

/// A fixed-seed generator (PCG-style LCG, top bits).
struct Rng(u64);

impl Rng {
    fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(self.next_u32()) / 4_294_967_296.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }

    fn unit_vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMS).map(|_| self.unit() as f32 - 0.5).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

/// Word `r` of the vocabulary: a pronounceable, unique string.
fn word(mut r: usize) -> String {
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "da", "zu", "fa", "go", "hi", "ju",
        "be", "co", "wy", "xi", "qe",
    ];
    let mut w = String::new();
    loop {
        w.push_str(SYL[r % SYL.len()]);
        r /= SYL.len();
        if r == 0 {
            break;
        }
        r -= 1;
    }
    w
}

/// Zipf (s = 1) over the vocabulary by inverse CDF.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= acc);
        Self { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut times: Vec<Duration>, total: Duration) {
    times.sort_unstable();
    println!(
        "{name:<8} p50 {:>8.3} ms   p99 {:>8.3} ms   {:>8.1} queries/s",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.len() as f64 / total.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let zipf = Zipf::new(VOCAB);
    let mut rng = Rng(0x5eed);

    let text_of = |rng: &mut Rng, n: usize| -> String {
        let mut t = String::with_capacity(n * 8);
        for i in 0..n {
            if i > 0 {
                t.push(' ');
            }
            t.push_str(&words[zipf.sample(rng)]);
        }
        t
    };

    // Generate first, so the build time is the index's own.
    let t = Instant::now();
    let mut texts: Vec<String> = (0..CHUNKS)
        .map(|_| text_of(&mut rng, WORDS_PER_CHUNK))
        .collect();
    // Rare identifiers: one chunk in 10,000 names a part.
    let rare: Vec<String> = (0..CHUNKS / 10_000)
        .map(|i| format!("XK-{}-b", 4000 + i))
        .collect();
    for (i, id) in rare.iter().enumerate() {
        texts[i * 10_000 + 17].push_str(&format!(" part {id} failed"));
    }
    let vectors: Vec<Vec<f32>> = (0..CHUNKS).map(|_| rng.unit_vector()).collect();
    println!(
        "generated {CHUNKS} chunks ({DIMS} dims, {WORDS_PER_CHUNK} words, vocabulary {VOCAB}) in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let payload = |i: usize, text: &str| ChunkPayload {
        tenant: "acme".into(),
        doc_id: format!("doc-{}", i / 20),
        source: format!("file:///docs/{}/{}.pdf", i % 7, i / 20),
        content_sha256: "0".repeat(64),
        chunk_index: (i % 20) as u32,
        chunk_count: 20,
        page_start: (i % 20) as u32 + 1,
        page_end: (i % 20) as u32 + 1,
        media_type: "application/pdf".into(),
        text: text.to_owned(),
        model: "bench".into(),
        pipeline_version: "bench".into(),
        ..ChunkPayload::default()
    };

    // The derived keyword state alone, on one thread: what open adds per point.
    let t = Instant::now();
    let mut inverted = InvertedIndex::default();
    for (i, text) in texts.iter().enumerate() {
        inverted.insert(
            Uuid::from_u128(i as u128),
            "acme",
            &keyword::doc_weights(text),
        );
    }
    println!(
        "keyword index alone (BM25 weights + postings, 1 thread): {:.2} s for {} points",
        t.elapsed().as_secs_f64(),
        inverted.len()
    );
    drop(inverted);

    let t = Instant::now();
    let index = EmbeddedIndex::open(dir.path()).expect("open");
    rt.block_on(async {
        index.ensure_collection(DIMS).await.expect("collection");
        for start in (0..CHUNKS).step_by(BATCH) {
            let points = (start..(start + BATCH).min(CHUNKS))
                .map(|i| Point {
                    id: Uuid::from_u128(i as u128 + 1),
                    vector: vectors[i].clone(),
                    payload: payload(i, &texts[i]),
                })
                .collect();
            index.upsert(points).await.expect("upsert");
        }
    });
    println!(
        "build (upsert {CHUNKS} points in batches of {BATCH}, fsynced): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(index);
    let t = Instant::now();
    let index = EmbeddedIndex::open(dir.path()).expect("reopen");
    println!(
        "reopen from the log (vectors + keyword index rebuilt): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    index.compact().expect("compact");
    drop(index);
    let t = Instant::now();
    let index = EmbeddedIndex::open(dir.path()).expect("reopen");
    println!(
        "reopen from a snapshot (vectors + keyword index rebuilt): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(vectors);

    // Queries: a random vector and 3-6 vocabulary words; every 25th names a rare identifier.
    let queries: Vec<(Vec<f32>, String)> = (0..QUERIES)
        .map(|q| {
            let n = 3 + rng.below(4);
            let mut text = text_of(&mut rng, n);
            if q % 25 == 0 {
                text = format!("{} {text}", rare[q / 25 % rare.len()]);
            }
            (rng.unit_vector(), text)
        })
        .collect();
    let filter = Filter::tenant("acme");
    let fusion = Fusion::default();
    println!("{QUERIES} queries, top {TOP_K}, one tenant of {CHUNKS} points, one thread:");
    let mut found_rare = 0;
    for mode in ["dense", "keyword", "hybrid"] {
        let mut times = Vec::with_capacity(QUERIES);
        let all = Instant::now();
        for (q, (vector, text)) in queries.iter().enumerate() {
            let t = Instant::now();
            let hits = rt
                .block_on(async {
                    match mode {
                        "dense" => index.search(vector, &filter, TOP_K).await,
                        "keyword" => index.keyword_search(text, &filter, TOP_K).await,
                        _ => {
                            index
                                .hybrid_search(vector, text, &filter, TOP_K, &fusion)
                                .await
                        }
                    }
                })
                .expect("search");
            times.push(t.elapsed());
            if mode == "keyword" && q % 25 == 0 {
                let id = &rare[q / 25 % rare.len()];
                found_rare +=
                    usize::from(hits.first().is_some_and(|h| h.payload.text.contains(id)));
            }
        }
        report(mode, times, all.elapsed());
    }
    println!(
        "keyword: the rare identifier's chunk ranked first in {found_rare} of {} queries",
        QUERIES / 25
    );
}
