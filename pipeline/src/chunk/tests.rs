//! Unit tests of the chunker against the real model tokenizer.

use std::time::Instant;

use super::test_support::{TOKENIZER, check_invariants, chunker, count, doc_text, pages};
use super::{Chunker, ChunkerConfig, TokenChunker};
use crate::doc::Page;
use crate::error::Error;

#[test]
fn config_defaults_and_serde() {
    let c = ChunkerConfig::default();
    assert_eq!((c.max_tokens, c.overlap_tokens), (256, 32));
    let parsed: ChunkerConfig = serde_json::from_str(r#"{"max_tokens": 64}"#).unwrap();
    assert_eq!(
        parsed,
        ChunkerConfig {
            max_tokens: 64,
            overlap_tokens: 32
        }
    );
    let back: ChunkerConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert!(serde_json::from_str::<ChunkerConfig>(r#"{"max_tokenz": 64}"#).is_err());
}

#[test]
fn config_validation_errors_are_clear() {
    let new = |max_tokens, overlap_tokens| {
        TokenChunker::new(
            TOKENIZER.clone(),
            ChunkerConfig {
                max_tokens,
                overlap_tokens,
            },
        )
    };
    let too_small = new(2, 0).err().expect("2 tokens are all special");
    assert!(matches!(too_small, Error::Chunking(_)));
    assert!(
        too_small.to_string().contains("max_tokens (2)"),
        "{too_small}"
    );
    let overlap = new(64, 62).err().expect("overlap = budget");
    assert!(
        overlap.to_string().contains("overlap_tokens (62)"),
        "{overlap}"
    );
    assert!(new(64, 61).is_ok());
    assert!(new(3, 0).is_ok(), "one content token is enough");
    assert_eq!(chunker(256, 32).special_tokens(), 2);
}

#[test]
fn fingerprint_follows_the_config() {
    assert_eq!(chunker(256, 32).settings_fingerprint(), "tok256-ov32-v1");
    assert_ne!(
        chunker(256, 16).settings_fingerprint(),
        chunker(256, 32).settings_fingerprint()
    );
    assert_ne!(
        chunker(128, 32).settings_fingerprint(),
        chunker(256, 32).settings_fingerprint()
    );
}

#[test]
fn nothing_to_chunk_gives_no_chunks() {
    let c = chunker(64, 16);
    assert!(c.chunk(&[]).unwrap().is_empty());
    assert!(c.chunk(&pages(&["", "", ""])).unwrap().is_empty());
    assert!(
        c.chunk(&pages(&["  \n\t ", "\u{3000}\n"]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn short_document_is_one_trimmed_chunk_with_its_pages() {
    let p = pages(&["", "  Hello there.  ", "", "Second page!\n", ""]);
    let chunks = chunker(64, 16).chunk(&p).unwrap();
    assert_eq!(chunks.len(), 1);
    let c = &chunks[0];
    assert_eq!(c.text, "Hello there.  \n\n\n\nSecond page!");
    assert_eq!((c.page_start, c.page_end), (2, 4));
    assert_eq!(c.token_count as usize, count(&c.text));
    check_invariants(&p, &chunks, 64, 16).unwrap();
}

#[test]
fn short_paragraphs_end_chunks_at_paragraph_ends() {
    let para = |i: usize| {
        format!("Paragraph {i} talks about topic {i}. It has two short sentences about it.")
    };
    let text = (0..40).map(para).collect::<Vec<_>>().join("\n\n");
    let p = pages(&[text.as_str()]);
    for (max, overlap) in [(64, 0), (64, 16), (128, 32)] {
        let chunks = chunker(max, overlap).chunk(&p).unwrap();
        assert!(chunks.len() > 3, "{max}: {} chunks", chunks.len());
        for c in &chunks {
            assert!(
                c.text.ends_with("about it."),
                "{max}/{overlap}: {:?}",
                c.text
            );
            assert!(
                c.text.starts_with("Paragraph") || overlap > 0,
                "{:?}",
                c.text
            );
        }
        check_invariants(&p, &chunks, max, overlap).unwrap();
    }
}

#[test]
fn one_long_paragraph_ends_chunks_at_sentence_ends() {
    let text = (0..60)
        .map(|i| format!("Sentence number {i} is here and says rather little."))
        .collect::<Vec<_>>()
        .join(" ");
    let p = pages(&[text.as_str()]);
    let chunks = chunker(64, 16).chunk(&p).unwrap();
    for c in &chunks {
        assert!(c.text.ends_with("little."), "{:?}", c.text);
    }
    check_invariants(&p, &chunks, 64, 16).unwrap();
}

#[test]
fn overlap_repeats_a_word_aligned_tail() {
    let text = (0..300)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let p = pages(&[text.as_str()]);
    let chunks = chunker(64, 16).chunk(&p).unwrap();
    for pair in chunks.windows(2) {
        assert!(pair[1].char_start < pair[0].char_end, "chunks overlap");
        assert!(
            pair[1].text.starts_with('w'),
            "starts at a word: {:?}",
            pair[1].text
        );
    }
    let no_overlap = chunker(64, 0).chunk(&p).unwrap();
    for pair in no_overlap.windows(2) {
        assert!(pair[1].char_start >= pair[0].char_end);
    }
    assert!(no_overlap.len() < chunks.len());
    check_invariants(&p, &chunks, 64, 16).unwrap();
    check_invariants(&p, &no_overlap, 64, 0).unwrap();
}

#[test]
fn awkward_text_stays_within_the_limit_and_covered() {
    let long_word = "pneumonoultramicroscopicsilicovolcanoconiosis".repeat(2);
    let giant_word = "x".repeat(5000);
    let url = "https://example.com/a/very/long/path/with-many-segments?and=query&params=1#frag";
    let cjk = "这是一个没有空格的中文句子，它应该在字边界处被切分。".repeat(20);
    let emoji = "👨‍👩‍👧 👍🏽 😀😀😀 ".repeat(30);
    let odd = "e\u{301}te\u{301} a\u{0}b \u{200b}zero\u{200b}width \u{fffd} tab\tend";
    let texts = [
        long_word.as_str(),
        giant_word.as_str(),
        &url.repeat(10),
        cjk.as_str(),
        emoji.as_str(),
        odd,
    ];
    let p = pages(&texts);
    for (max, overlap) in [(3, 0), (4, 1), (8, 2), (64, 16), (256, 32)] {
        let chunks = chunker(max, overlap).chunk(&p).unwrap();
        check_invariants(&p, &chunks, max, overlap)
            .unwrap_or_else(|e| panic!("max {max} overlap {overlap}: {e}"));
    }
}

#[test]
fn deterministic_across_runs_and_instances() {
    let text = "Alpha beta. Gamma delta!\n\nEpsilon 東京 zeta? ".repeat(200);
    let p = pages(&[text.as_str(), "", text.as_str()]);
    let a = chunker(64, 16).chunk(&p).unwrap();
    let b = chunker(64, 16).chunk(&p).unwrap();
    let c = chunker(64, 16);
    assert_eq!(a, b);
    assert_eq!(c.chunk(&p).unwrap(), c.chunk(&p).unwrap());
    assert_eq!(a, c.chunk(&p).unwrap());
}

#[test]
fn chunks_span_the_pages_they_come_from() {
    let page = |n: usize| format!("Page {n} text. ").repeat(10);
    let texts: Vec<String> = (1..=6).map(page).collect();
    let p: Vec<Page> = texts
        .iter()
        .zip(1u32..)
        .map(|(t, number)| Page::new(number, t.trim_end()))
        .collect();
    let chunks = chunker(64, 8).chunk(&p).unwrap();
    check_invariants(&p, &chunks, 64, 8).unwrap();
    assert_eq!(chunks[0].page_start, 1);
    assert_eq!(chunks.last().unwrap().page_end, 6);
    for c in &chunks {
        assert!(c.text.contains(&format!("Page {}", c.page_start)), "{c:?}");
        assert!(c.text.contains(&format!("Page {}", c.page_end)), "{c:?}");
    }
}

#[test]
fn large_document_is_fast() {
    let para = "The quick brown fox jumps over the lazy dog near the riverbank. Meanwhile, \
                researchers measured 42.7% growth in renewable-energy adoption across Europe.";
    let page = format!("{para}\n{para} {para}\n\n{para}\n").repeat(3);
    let texts: Vec<String> = (0..1000).map(|i| format!("Page {i}.\n{page}")).collect();
    let p: Vec<Page> = texts
        .iter()
        .zip(1u32..)
        .map(|(t, number)| Page::new(number, t.clone()))
        .collect();
    let bytes = doc_text(&p).len();
    let c = chunker(256, 32);
    let t0 = Instant::now();
    let chunks = c.chunk(&p).unwrap();
    let took = t0.elapsed();
    eprintln!(
        "chunked {bytes} bytes / 1000 pages into {} chunks in {took:?}",
        chunks.len()
    );
    assert!(bytes > 1_800_000);
    assert!(took.as_secs_f64() < 10.0, "too slow: {took:?}");
    assert!(chunks.iter().all(|ch| ch.token_count <= 256));
    assert_eq!(chunks.last().unwrap().page_end, 1000);
}

#[test]
fn word_pieces_that_grow_alone_are_split_by_chars() {
    // Found by proptest: at a 1-token budget a piece of "aacboo" re-tokenizes to 2 tokens alone.
    let p = pages(&["aAcboo "]);
    let chunks = chunker(3, 0).chunk(&p).unwrap();
    check_invariants(&p, &chunks, 3, 0).unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.text.as_str()).collect::<String>(),
        "aAcboo"
    );
}

#[test]
fn a_char_that_cannot_fit_is_a_clear_error() {
    // Found by proptest: U+09CB decomposes to two chars, 2 content tokens, over a 1-token budget.
    let err = chunker(3, 0).chunk(&pages(&["\u{9cb}  "])).unwrap_err();
    assert!(err.to_string().contains("over max_tokens 3"), "{err}");
    let p = pages(&["\u{9cb}  "]);
    check_invariants(&p, &chunker(4, 0).chunk(&p).unwrap(), 4, 0).unwrap();
}
