//! Settings of the S3 client: endpoint, region, addressing, multipart sizes, retries.

use crate::{Error, Result};

/// S3's smallest part (all but the last) and most parts per upload.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PARTS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint override (MinIO, moto, LocalStack, Ceph); `None`: AWS's, from the region.
    pub endpoint_url: Option<String>,
    /// `None`: from the usual AWS chain (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// `http://host/bucket/key` instead of `http://bucket.host/key`: MinIO and most
    /// S3-compatible servers need it.
    pub force_path_style: bool,
    /// Objects at least this large are uploaded in parts.
    pub multipart_threshold_bytes: u64,
    /// Size of each part of a multipart upload (the last may be smaller).
    pub part_bytes: u64,
    /// Attempts per request, counting the first (the SDK's standard retry: throttling, 5xx,
    /// timeouts and connection errors, with exponential backoff and jitter).
    pub max_attempts: u32,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: None,
            force_path_style: false,
            multipart_threshold_bytes: 16 * 1024 * 1024,
            part_bytes: 8 * 1024 * 1024,
            max_attempts: 5,
        }
    }
}

impl S3Config {
    pub fn validate(&self) -> Result<()> {
        if self.part_bytes < MIN_PART_BYTES {
            return Err(Error::store(
                format!(
                    "S3 part size {} bytes is under S3's minimum of {MIN_PART_BYTES}",
                    self.part_bytes
                ),
                false,
            ));
        }
        if self.multipart_threshold_bytes < self.part_bytes {
            return Err(Error::store(
                "the S3 multipart threshold must be at least the part size",
                false,
            ));
        }
        if self.max_attempts == 0 {
            return Err(Error::store("S3 max_attempts must be at least 1", false));
        }
        Ok(())
    }

    /// Part size for an object of `len` bytes: the configured one, grown when the object would
    /// need more than S3's 10,000 parts.
    pub fn part_bytes_for(&self, len: u64) -> u64 {
        self.part_bytes.max(len.div_ceil(MAX_PARTS))
    }
}

/// `s3://bucket/prefix` → (bucket, prefix without slashes at either end).
pub fn parse_store_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    let bad_prefix = !prefix.is_empty()
        && prefix
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    (docfleet_core::source::valid_bucket(bucket) && !bad_prefix)
        .then(|| (bucket.to_owned(), prefix.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_sizes_and_parses_store_urls() {
        S3Config::default().validate().unwrap();
        let small = S3Config {
            part_bytes: 1024,
            ..S3Config::default()
        };
        assert!(small.validate().is_err());
        let c = S3Config::default();
        assert_eq!(c.part_bytes_for(1024), c.part_bytes);
        assert!(c.part_bytes_for(200 * 1024 * 1024 * 1024) * MAX_PARTS >= 200 * 1024 * 1024 * 1024);
        assert_eq!(
            parse_store_url("s3://artifacts/fleet/prod/"),
            Some(("artifacts".into(), "fleet/prod".into()))
        );
        assert_eq!(
            parse_store_url("s3://artifacts"),
            Some(("artifacts".into(), String::new()))
        );
        assert_eq!(parse_store_url("s3://artifacts/a//b"), None);
        assert_eq!(parse_store_url("s3://A/x"), None);
        assert_eq!(parse_store_url("/tmp/objects"), None);
    }
}
