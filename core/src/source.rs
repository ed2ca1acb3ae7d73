//! A job's source: `file:///abs/path` or `s3://bucket/key`, parsed and validated. Reading the
//! document is the pipeline's (`docfleet_pipeline::source::SourceReader`).

use std::path::PathBuf;

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
}
