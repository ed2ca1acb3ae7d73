//! Where artifacts go (a folder, or an S3 bucket) and how S3 is reached (for sources too).

use clap::Args;
use docfleet_pipeline::store::s3::S3Config;
use serde::Serialize;

/// Where artifacts go and how S3 (sources and artifacts) is reached.
#[derive(Args, Debug, Clone, Serialize)]
pub struct StorageOpts {
    /// Artifact store: s3://bucket/prefix, or a folder. Default: <data_dir>/objects.
    #[arg(long, env = "DOCFLEET_OBJECT_STORE_URL", global = true)]
    pub object_store_url: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub s3: S3Opts,
    /// AWS region (S3 and SQS). Default: the AWS chain (AWS_REGION, profile).
    #[arg(long, env = "DOCFLEET_AWS_REGION", global = true)]
    pub aws_region: Option<String>,
}

/// How S3 (sources and artifacts) is reached.
#[derive(Args, Debug, Clone, Serialize)]
pub struct S3Opts {
    /// S3 endpoint override (MinIO, moto, LocalStack). Default: AWS's (or AWS_ENDPOINT_URL).
    #[arg(long, env = "DOCFLEET_S3_ENDPOINT_URL", global = true)]
    pub s3_endpoint_url: Option<String>,
    /// Path-style S3 addressing (http://host/bucket/key): MinIO and most S3-compatible servers.
    #[arg(long, env = "DOCFLEET_S3_FORCE_PATH_STYLE", global = true)]
    pub s3_force_path_style: bool,
    /// Artifacts at least this large are uploaded in parts.
    #[arg(long, env = "DOCFLEET_S3_MULTIPART_THRESHOLD_BYTES", global = true,
          default_value_t = 16 * 1024 * 1024)]
    pub s3_multipart_threshold_bytes: u64,
    /// Part size of multipart uploads (S3's minimum is 5 MiB).
    #[arg(long, env = "DOCFLEET_S3_PART_BYTES", global = true, default_value_t = 8 * 1024 * 1024)]
    pub s3_part_bytes: u64,
    /// Attempts per S3 request (throttling, 5xx, timeouts are retried with backoff).
    #[arg(long, env = "DOCFLEET_S3_MAX_ATTEMPTS", global = true, default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub s3_max_attempts: u32,
}

impl StorageOpts {
    /// The S3 client's settings (sources and artifacts alike).
    pub fn s3_config(&self) -> S3Config {
        let s3 = &self.s3;
        S3Config {
            endpoint_url: s3.s3_endpoint_url.clone(),
            region: self.aws_region.clone(),
            force_path_style: s3.s3_force_path_style,
            multipart_threshold_bytes: s3.s3_multipart_threshold_bytes,
            part_bytes: s3.s3_part_bytes,
            max_attempts: s3.s3_max_attempts,
        }
    }
}
