//! Reading a job's document ([`SourceUri`]: `file:///abs/path` or `s3://bucket/key`), with the
//! size cap checked before the download (and enforced during it).

use std::path::Path;

use docfleet_core::source::SourceUri;

use crate::size_cap::check_size;
#[cfg(feature = "s3")]
use crate::store::s3::S3Client;
use crate::store::s3::S3Config;
use crate::{Error, Result};

/// Reads job sources. The S3 client is made on first use, so runs on local files never touch
/// the AWS configuration chain (whose region lookup can wait on instance metadata).
pub struct SourceReader {
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    s3_config: S3Config,
    #[cfg(feature = "s3")]
    s3: tokio::sync::OnceCell<S3Client>,
}

impl std::fmt::Debug for SourceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceReader")
    }
}

impl SourceReader {
    pub fn new(s3_config: S3Config) -> Self {
        Self {
            s3_config,
            #[cfg(feature = "s3")]
            s3: tokio::sync::OnceCell::new(),
        }
    }

    /// The S3 client, made on first use.
    #[cfg(feature = "s3")]
    pub async fn s3(&self) -> &S3Client {
        self.s3.get_or_init(|| S3Client::new(&self.s3_config)).await
    }

    /// The document's bytes; one over `max_bytes` fails (`TooLarge`) without being read whole.
    pub async fn read(&self, source: &SourceUri, max_bytes: u64) -> Result<Vec<u8>> {
        match source {
            SourceUri::File(path) => read_file_capped(path, max_bytes).await,
            #[cfg(feature = "s3")]
            SourceUri::S3 { bucket, key } => {
                self.s3().await.get_capped(bucket, key, max_bytes).await
            }
            #[cfg(not(feature = "s3"))]
            SourceUri::S3 { .. } => Err(Error::store(
                "this build has no S3 support (feature `s3`)",
                false,
            )),
        }
    }
}

/// The bytes of a local file, refusing (without reading it) one over `max_bytes`.
pub async fn read_file_capped(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let meta = match tokio::fs::metadata(path).await {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            return Err(Error::SourceNotFound(format!(
                "{} is not a file",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::SourceNotFound(path.display().to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    check_size(meta.len(), max_bytes)?;
    Ok(tokio::fs::read(path).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_files_over_the_cap_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_file_capped(&path, 5).await.unwrap(), b"12345");
        let err = read_file_capped(&path, 4).await.unwrap_err();
        assert!(
            err.to_string().contains("5 bytes, over the limit of 4"),
            "{err}"
        );
        let err = read_file_capped(&dir.path().join("gone"), 4)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SourceNotFound(_)));
    }
}
