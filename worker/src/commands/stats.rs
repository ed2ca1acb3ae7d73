//! `docfleet stats`: documents, chunks and points per tenant.

use anyhow::Result;
use docfleet_pipeline::index::VectorIndex;
use docfleet_pipeline::index::embedded::EmbeddedIndex;

use crate::settings::CommonOpts;

pub async fn stats(common: &CommonOpts, json: bool) -> Result<()> {
    let index = EmbeddedIndex::open_read_only(&common.index_dir())?;
    let stats = index.stats().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(());
    }
    println!(
        "{:<24} {:>10} {:>10} {:>10}",
        "tenant", "documents", "chunks", "points"
    );
    for s in &stats {
        println!(
            "{:<24} {:>10} {:>10} {:>10}",
            s.tenant, s.documents, s.chunks, s.points
        );
    }
    if stats.is_empty() {
        println!(
            "(empty: nothing indexed in {})",
            common.index_dir().display()
        );
    }
    Ok(())
}
