//! Property tests: generated multi-page documents, every invariant, several configs.

use proptest::prelude::*;

use super::Chunker;
use super::test_support::{check_invariants, chunker};
use crate::doc::Page;

/// One piece of text: words, sentences, unicode, CJK, emoji, very long words, URLs, odd chars.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z]{1,12}",
        2 => "[A-Z][a-z]{2,9}[.!?]",
        1 => "[0-9]{1,6}([.,][0-9]{1,3})?",
        1 => prop::sample::select(vec![
            "café", "naïve", "Straße", "Ελληνικά", "русский", "ÅNGSTRÖM", "İstanbul", "ﬁne",
        ]).prop_map(str::to_owned),
        1 => "[\u{4e00}-\u{4fff}]{1,40}[。！？]?",
        1 => prop::sample::select(vec!["😀", "👍🏽", "👨‍👩‍👧", "🇺🇳", "⭐️"]).prop_map(str::to_owned),
        1 => "[a-z]{30,250}",
        1 => "https://[a-z]{3,10}\\.com(/[a-z0-9_-]{1,12}){0,6}(\\?[a-z]=[0-9]{1,4})?",
        1 => "\\PC{1,12}",
        1 => any::<char>().prop_map(String::from),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " ", " ", " ", " ", "\n", "\n\n", ". ", "  ", "\t", "", "\r\n\r\n",
    ])
}

fn page_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => "[ \n\t]{1,5}",
        8 => prop::collection::vec((piece(), separator()), 0..120).prop_map(|parts| {
            parts.into_iter().fold(String::new(), |mut s, (p, sep)| {
                s.push_str(&p);
                s.push_str(sep);
                s
            })
        }),
    ]
}

fn document() -> impl Strategy<Value = Vec<Page>> {
    prop::collection::vec(page_text(), 0..6).prop_map(|texts| {
        texts
            .into_iter()
            .zip(1u32..)
            .map(|(text, number)| Page::new(number, text))
            .collect()
    })
}

fn check(pages: &[Page], max_tokens: usize, overlap_tokens: usize) -> Result<(), TestCaseError> {
    let c = chunker(max_tokens, overlap_tokens);
    let chunks = c
        .chunk(pages)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_invariants(pages, &chunks, max_tokens, overlap_tokens).map_err(TestCaseError::fail)?;
    let again = c
        .chunk(pages)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&again, &chunks, "same chunker, same output");
    let fresh = chunker(max_tokens, overlap_tokens).chunk(pages);
    prop_assert_eq!(
        &fresh.map_err(|e| TestCaseError::fail(e.to_string()))?,
        &chunks
    );
    Ok(())
}

proptest! {
    // Failures are shrunk and reported; found cases live on as unit tests in `tests.rs`.
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_at_64_no_overlap(pages in document()) {
        check(&pages, 64, 0)?;
    }

    #[test]
    fn invariants_hold_at_64_overlap_16(pages in document()) {
        check(&pages, 64, 16)?;
    }

    #[test]
    fn invariants_hold_at_default_256_32(pages in document()) {
        check(&pages, 256, 32)?;
    }

    #[test]
    fn invariants_hold_at_tiny_budgets(pages in document(), max in 8usize..16, ov in 0usize..4) {
        // Below ~6 content tokens a single char can need more than the budget (an error).
        let overlap = ov;
        check(&pages, max, overlap)?;
    }
}
