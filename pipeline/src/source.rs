//! Where a job's document comes from: `file:///abs/path` or `s3://bucket/key`, and reading its
//! bytes with the size cap checked before the download (and enforced during it).

use std::path::{Path, PathBuf};

#[cfg(feature = "s3")]
use crate::store::s3::S3Client;
use crate::store::s3::S3Config;
use crate::{Error, Result};

/// A parsed, validated job source. The URI string itself is the document's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUri {
    /// An absolute local path without `..` segments.
    File(PathBuf),
    /// An object; the key is taken verbatim (no percent-decoding), as the AWS CLI writes it.
    S3 { bucket: String, key: String },
}

impl SourceUri {
    /// Parses `file:///abs/path` or `s3://bucket/key`; `None` for anything else.
    pub fn parse(uri: &str) -> Option<Self> {
        if uri.contains('\0') {
            return None;
        }
        if let Some(path) = uri.strip_prefix("file://") {
            let ok = path.starts_with('/') && !path.split('/').any(|s| s == "..");
            return ok.then(|| SourceUri::File(PathBuf::from(path)));
        }
        let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
        let ok =
            valid_bucket(bucket) && !key.is_empty() && key.len() <= 1024 && !key.ends_with('/');
        ok.then(|| SourceUri::S3 {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The last path segment: a hint for the media type.
    pub fn file_name(&self) -> Option<String> {
        let name = match self {
            SourceUri::File(path) => path.file_name()?.to_string_lossy().into_owned(),
            SourceUri::S3 { key, .. } => key.rsplit('/').next()?.to_owned(),
        };
        (!name.is_empty()).then_some(name)
    }
}

/// S3 bucket naming rules (3-63 of a-z, 0-9, '.', '-'; starts and ends alphanumeric).
pub fn valid_bucket(bucket: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last())
}

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

/// `TooLarge` when `size_bytes` is over `max_bytes`.
pub fn check_size(size_bytes: u64, max_bytes: u64) -> Result<()> {
    if size_bytes > max_bytes {
        return Err(Error::TooLarge {
            size_bytes,
            limit_bytes: max_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_s3_sources() {
        assert_eq!(
            SourceUri::parse("file:///data/a.pdf"),
            Some(SourceUri::File("/data/a.pdf".into()))
        );
        let s3 = SourceUri::parse("s3://docs-1/in/2024/report v2.pdf").unwrap();
        assert_eq!(
            s3,
            SourceUri::S3 {
                bucket: "docs-1".into(),
                key: "in/2024/report v2.pdf".into()
            }
        );
        assert_eq!(s3.file_name().as_deref(), Some("report v2.pdf"));
        for bad in [
            "file://rel/a.pdf",
            "file:///a/../etc/passwd",
            "s3://Bad_Bucket/a",
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/prefix/",
            "s3://-bucket/a",
            "http://host/a.pdf",
            "/abs/a.pdf",
            "file:///a\0b",
        ] {
            assert_eq!(SourceUri::parse(bad), None, "{bad:?} must be rejected");
        }
    }

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
