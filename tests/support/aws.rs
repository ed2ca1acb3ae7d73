//! S3 on moto (the AWS emulator the tests run against).

use docfleet_pipeline::store::s3::{S3Client, S3Config};

use super::block_on;

/// moto's address (`DOCFLEET_TEST_AWS_ENDPOINT`, default `http://127.0.0.1:4566`).
pub fn aws_endpoint() -> String {
    std::env::var("DOCFLEET_TEST_AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

pub fn aws_region() -> String {
    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())
}

/// An S3 client on moto.
pub fn s3() -> S3Client {
    block_on(S3Client::new(&S3Config {
        endpoint_url: Some(aws_endpoint()),
        region: Some(aws_region()),
        force_path_style: true,
        ..S3Config::default()
    }))
}

pub fn create_bucket(client: &S3Client, name: &str) {
    block_on(client.sdk().create_bucket().bucket(name).send()).unwrap_or_else(|e| {
        panic!(
            "creating bucket {name} in moto at {}: {e:?}",
            aws_endpoint()
        )
    });
}

/// The keys under `prefix` in `bucket`.
pub fn object_keys(client: &S3Client, bucket: &str, prefix: &str) -> Vec<String> {
    block_on(client.list(bucket, prefix))
        .unwrap()
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}
