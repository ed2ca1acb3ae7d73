//! The chunk lane on a 100-page document with the model's real tokenizer: pages/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use docfleet_pipeline::Page;
use docfleet_pipeline::chunk::{Chunker, ChunkerConfig, TokenChunker};
use tokenizers::Tokenizer;

const PAGES: u32 = 100;

/// Pages of prose with paragraphs and sentences of varied length (deterministic).
fn document() -> Vec<Page> {
    let words = [
        "the",
        "river",
        "carries",
        "sediment",
        "downstream",
        "where",
        "engineers",
        "measured",
        "growth",
        "of",
        "the",
        "delta",
        "between",
        "seasons",
        "because",
        "storms",
        "shifted",
        "ancient",
        "channels",
        "and",
        "modern",
        "levees",
        "failed",
    ];
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    (1..=PAGES)
        .map(|number| {
            let mut text = String::new();
            for paragraph in 0..6 {
                if paragraph > 0 {
                    text.push_str("\n\n");
                }
                for _sentence in 0..(3 + next() % 4) {
                    let n = 8 + next() % 16;
                    let sentence: Vec<&str> = (0..n).map(|_| words[next() % words.len()]).collect();
                    text.push_str(&sentence.join(" "));
                    text.push_str(". ");
                }
            }
            Page::new(number, text)
        })
        .collect()
}

fn chunk(c: &mut Criterion) {
    let path = docfleet_models::default_model_dir().join("tokenizer.json");
    let tokenizer = Tokenizer::from_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run ./scripts/setup)", path.display()));
    let chunker = TokenChunker::new(tokenizer, ChunkerConfig::default()).expect("chunker");
    let pages = document();
    let chunks = chunker.chunk(&pages).expect("chunks").len();
    println!("chunker: {PAGES} pages -> {chunks} chunks of <= 256 tokens");
    let mut group = c.benchmark_group("chunker");
    group.throughput(Throughput::Elements(u64::from(PAGES)));
    group.sample_size(20);
    group.bench_function("100 pages, 256 tokens, overlap 32", |b| {
        b.iter(|| chunker.chunk(black_box(&pages)).expect("chunks"))
    });
    group.finish();
}

criterion_group!(benches, chunk);
criterion_main!(benches);
