//! `docfleet stats`: documents, chunks and points per tenant.

use crate::settings::CommonOpts;
use crate::wiring::{self, IndexAccess};
use anyhow::Result;

pub async fn stats(common: &CommonOpts, json: bool) -> Result<()> {
    let index = wiring::open_index(common, IndexAccess::Read)?;
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
            wiring::index_location(common)
        );
    }
    Ok(())
}
