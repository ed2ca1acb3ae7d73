//! One search, the same for the CLI, the API and `docfleet eval`: embed the query when the mode
//! needs a vector, then ask the index in that mode.

use crate::Result;
use crate::index::{Filter, Fusion, SearchHit, SearchMode, VectorIndex};

/// What to look for and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub text: String,
    pub mode: SearchMode,
    pub filter: Filter,
    pub top_k: usize,
    pub fusion: Fusion,
}

/// Runs `request` on `index`; `embed` turns the query text into its vector (called only for
/// dense and hybrid).
pub async fn search(
    index: &dyn VectorIndex,
    embed: impl FnOnce(&str) -> Result<Vec<f32>>,
    request: &SearchRequest,
) -> Result<Vec<SearchHit>> {
    let SearchRequest {
        text,
        mode,
        filter,
        top_k,
        fusion,
    } = request;
    match mode {
        SearchMode::Keyword => index.keyword_search(text, filter, *top_k).await,
        SearchMode::Dense => index.search(&embed(text)?, filter, *top_k).await,
        SearchMode::Hybrid => {
            let vector = embed(text)?;
            index
                .hybrid_search(&vector, text, filter, *top_k, fusion)
                .await
        }
    }
}
