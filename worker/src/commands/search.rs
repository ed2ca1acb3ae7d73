//! `docfleet search "<query>"`: the best chunks of the tenant's documents.

use anyhow::Result;
use docfleet_models::Embedder;
use docfleet_pipeline::index::{Filter, SearchHit};
use serde::Serialize;

use crate::app::{self, IndexAccess};
use crate::settings::CommonOpts;

#[derive(Debug, Serialize)]
pub struct HitView<'a> {
    rank: usize,
    score: f32,
    doc_id: &'a str,
    source: &'a str,
    page_start: u32,
    page_end: u32,
    /// "slide 3", "sheet Budget": how the span is named where page numbers would mislead.
    #[serde(skip_serializing_if = "Option::is_none")]
    page_label: Option<&'a str>,
    /// Pages of the span read by OCR, and Tesseract's mean confidence over them.
    #[serde(skip_serializing_if = "<[u32]>::is_empty")]
    ocr_pages: &'a [u32],
    #[serde(skip_serializing_if = "Option::is_none")]
    ocr_confidence: Option<u8>,
    chunk_index: u32,
    text: &'a str,
}

impl HitView<'_> {
    /// "page 2", "pages 2-3", "slide 3", plus "(OCR, confidence 91)" for recognised text.
    fn where_found(&self) -> String {
        let mut at = match self.page_label {
            Some(label) => label.to_owned(),
            None if self.page_start == self.page_end => format!("page {}", self.page_start),
            None => format!("pages {}-{}", self.page_start, self.page_end),
        };
        if let Some(confidence) = self.ocr_confidence {
            at.push_str(&format!(" (OCR, confidence {confidence})"));
        }
        at
    }
}

pub async fn search(common: &CommonOpts, query: &str, top_k: usize, json: bool) -> Result<()> {
    let tenant = common.tenant()?.to_owned();
    let index = app::open_index(common, IndexAccess::Read)?;
    let embedder = app::load_embedder(common, 4096)?;
    let vector = embedder.embed(&[query])?.remove(0);
    let hits = index
        .search(
            &vector,
            &Filter {
                tenant,
                doc_id: None,
            },
            top_k,
        )
        .await?;
    let views: Vec<HitView> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| view(i + 1, h))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(());
    }
    if views.is_empty() {
        println!(
            "no results (is anything indexed for tenant {:?}? see `docfleet stats`)",
            common.tenant
        );
    }
    for v in &views {
        let pages = v.where_found();
        println!(
            "{:>2}. {:.4}  {}  {}  doc {}",
            v.rank,
            v.score,
            display_source(v.source),
            pages,
            v.doc_id
        );
        println!("    {}", snippet(v.text, 240));
    }
    Ok(())
}

pub fn view(rank: usize, h: &SearchHit) -> HitView<'_> {
    let p = &h.payload;
    HitView {
        rank,
        score: h.score,
        doc_id: &p.doc_id,
        source: &p.source,
        page_start: p.page_start,
        page_end: p.page_end,
        page_label: p.page_label.as_deref(),
        ocr_pages: &p.ocr_pages,
        ocr_confidence: p.ocr_confidence,
        chunk_index: p.chunk_index,
        text: &p.text,
    }
}

fn display_source(source: &str) -> &str {
    source.strip_prefix("file://").unwrap_or(source)
}

/// The text on one line, cut at a char boundary.
fn snippet(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippet_flattens_and_cuts_on_char_boundaries() {
        assert_eq!(super::snippet("a\n\n b", 10), "a b");
        assert_eq!(super::snippet("ééééé", 3), "ééé…");
    }
}
