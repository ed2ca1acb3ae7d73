//! Where artifacts go and where sources are read: the object store of `--object-store-url` (a
//! bucket for `s3://bucket/prefix`, else a folder, default `<data_dir>/objects`), and the reader
//! of job sources (file://, s3://).

use std::sync::Arc;

use anyhow::{Context, Result};
use docfleet_pipeline::source::SourceReader;
use docfleet_pipeline::store::ObjectStore;
use docfleet_pipeline::store::local::LocalStore;
use docfleet_pipeline::store::s3::config::parse_store_url;
use docfleet_pipeline::store::s3::{S3Client, S3Store};

use crate::settings::CommonOpts;

/// The artifact store of the options.
pub async fn open_object_store(common: &CommonOpts) -> Result<Arc<dyn ObjectStore>> {
    let url = common.storage.object_store_url.as_deref();
    if let Some(url) = url.filter(|u| u.starts_with("s3://")) {
        let (bucket, prefix) = parse_store_url(url).with_context(|| {
            format!("invalid object store URL {url:?}: expected s3://bucket[/prefix]")
        })?;
        let cfg = common.storage.s3_config();
        cfg.validate()?;
        return Ok(Arc::new(S3Store::new(
            S3Client::new(&cfg).await,
            bucket,
            prefix,
        )));
    }
    if let Some(url) = url.filter(|u| u.contains("://") && !u.starts_with("file://")) {
        anyhow::bail!("unsupported object store URL {url:?}: use s3://bucket[/prefix] or a folder");
    }
    let dir = url.map_or_else(
        || common.objects_dir(),
        |u| u.strip_prefix("file://").unwrap_or(u).into(),
    );
    Ok(Arc::new(LocalStore::new(dir)))
}

/// The reader of job sources; its S3 client (made on first s3:// read) has the S3 options.
pub fn source_reader(common: &CommonOpts) -> SourceReader {
    SourceReader::new(common.storage.s3_config())
}
