//! S3 (and S3-compatible: MinIO, Ceph, moto) for source documents and artifacts.
//!
//! - [`S3Client`]: capped streaming downloads (HEAD first, so an object over the cap is refused
//!   without a GET; the GET's length and the bytes received are checked too, in case the object
//!   changed in between), multipart uploads for large objects, listing a prefix.
//! - [`S3Store`]: the [`ObjectStore`] on a bucket and prefix, same key layout as the local store.
//!
//! Retries: the SDK's standard retry handles throttling, 5xx, timeouts and connection errors
//! (`max_attempts`); what is left after that maps to a retryable `Store` error, so the job is
//! retried later; a missing bucket or denied access is permanent.

pub mod config;
#[cfg(feature = "s3")]
mod multipart;

#[cfg(feature = "s3")]
pub use client::{S3Client, S3Store};
pub use config::S3Config;

#[cfg(feature = "s3")]
mod client {
    use async_trait::async_trait;
    use aws_sdk_s3::Client;
    use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::ByteStream;

    use super::S3Config;
    use crate::size_cap::check_size;
    use crate::store::{ObjectKey, ObjectMeta, ObjectStore};
    use crate::{Error, Result};

    /// Maps an SDK error left after the SDK's own retries. Throttling, 5xx, timeouts and
    /// connection failures stay retryable (the job is tried again later); 4xx are permanent.
    pub(super) fn map_err<E>(what: &str, e: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let retryable = match &e {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            _ => {
                status.is_some_and(|s| s == 429 || s >= 500)
                    || matches!(e.code(), Some("SlowDown" | "Throttling" | "RequestTimeout"))
            }
        };
        let hint = match e.code() {
            Some("NoSuchBucket") => " (the bucket does not exist)",
            Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                " (check the credentials and the bucket policy)"
            }
            _ => "",
        };
        Error::store(
            format!("{what}: {}{hint}", DisplayErrorContext(&e)),
            retryable,
        )
    }

    /// An S3 client with docfleet's settings.
    #[derive(Debug, Clone)]
    pub struct S3Client {
        pub(super) client: Client,
        pub(super) cfg: S3Config,
    }

    impl S3Client {
        pub async fn new(cfg: &S3Config) -> Self {
            let sdk = docfleet_core::aws::sdk_config(
                cfg.endpoint_url.as_deref(),
                cfg.region.as_deref(),
                cfg.max_attempts,
            )
            .await;
            let conf = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(cfg.force_path_style)
                .build();
            Self {
                client: Client::from_conf(conf),
                cfg: cfg.clone(),
            }
        }

        /// The SDK client, for what this type does not wrap (tests create buckets with it).
        pub fn sdk(&self) -> &Client {
            &self.client
        }

        /// Size of the object, or `None` when there is none.
        pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<u64>> {
            match self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                Err(e) => Err(map_err(&format!("HEAD s3://{bucket}/{key}"), e)),
            }
        }

        /// A source document: refused by its HEAD when over `max_bytes` (never downloaded), else
        /// streamed with the cap enforced. A missing object is `SourceNotFound`.
        pub async fn get_capped(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
            let Some(size) = self.head(bucket, key).await? else {
                return Err(Error::SourceNotFound(format!("s3://{bucket}/{key}")));
            };
            check_size(size, max_bytes)?;
            self.get(bucket, key, max_bytes).await
        }

        /// The object's bytes, streamed; fails `TooLarge` as soon as the announced length or the
        /// bytes received pass `max_bytes`, dropping the connection instead of reading on.
        pub async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
            let out = match self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    return Err(Error::SourceNotFound(format!("s3://{bucket}/{key}")));
                }
                Err(e) => return Err(map_err(&format!("GET s3://{bucket}/{key}"), e)),
            };
            let announced = out.content_length().unwrap_or(0).max(0) as u64;
            check_size(announced, max_bytes)?;
            read_capped(out.body, announced, max_bytes)
                .await
                .map_err(|e| match e {
                    Error::Store {
                        message,
                        source,
                        retryable,
                    } => Error::Store {
                        message: format!("GET s3://{bucket}/{key}: {message}"),
                        source,
                        retryable,
                    },
                    other => other,
                })
        }

        /// Writes the object: one PUT, or a multipart upload from `multipart_threshold_bytes`.
        pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<()> {
            if bytes.len() as u64 >= self.cfg.multipart_threshold_bytes {
                return self.put_multipart(bucket, key, bytes.into()).await;
            }
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map_err(|e| map_err(&format!("PUT s3://{bucket}/{key}"), e))?;
            Ok(())
        }

        /// Deletes the object (S3 answers success for a missing one too).
        pub async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| map_err(&format!("DELETE s3://{bucket}/{key}"), e))?;
            Ok(())
        }

        /// Every object under `prefix`, as (key, size), in key order; "folder" placeholders
        /// (keys ending in `/`) left out.
        pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>> {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut objects = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| map_err(&format!("LIST s3://{bucket}/{prefix}"), e))?;
                for obj in page.contents() {
                    if let Some(key) = obj.key().filter(|k| !k.ends_with('/')) {
                        objects.push((key.to_owned(), obj.size().unwrap_or(0).max(0) as u64));
                    }
                }
            }
            Ok(objects)
        }
    }

    /// Reads a body to the end, at most `max_bytes` of it.
    async fn read_capped(mut body: ByteStream, announced: u64, max_bytes: u64) -> Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(announced.min(max_bytes) as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::store(format!("reading the body: {e}"), true))?;
            let received = (bytes.len() + chunk.len()) as u64;
            if received > max_bytes {
                return Err(Error::TooLarge {
                    size_bytes: received.max(announced),
                    limit_bytes: max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Artifacts in a bucket, under an optional prefix: `<prefix>/<tenant>/<doc_id>/<sha>/<name>`.
    #[derive(Debug, Clone)]
    pub struct S3Store {
        client: S3Client,
        bucket: String,
        prefix: String,
    }

    impl S3Store {
        /// `prefix` without slashes at either end; empty for the bucket's root.
        pub fn new(client: S3Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
            Self {
                client,
                bucket: bucket.into(),
                prefix: prefix.into(),
            }
        }

        /// The object's key in the bucket.
        pub fn key_of(&self, key: &ObjectKey) -> String {
            if self.prefix.is_empty() {
                key.as_str().to_owned()
            } else {
                format!("{}/{key}", self.prefix)
            }
        }

        pub fn bucket(&self) -> &str {
            &self.bucket
        }
    }

    #[async_trait]
    impl ObjectStore for S3Store {
        async fn get(&self, key: &ObjectKey) -> Result<Vec<u8>> {
            match self
                .client
                .get(&self.bucket, &self.key_of(key), u64::MAX)
                .await
            {
                Err(Error::SourceNotFound(_)) => {
                    Err(Error::store(format!("no object {key}"), false))
                }
                other => other,
            }
        }

        async fn put(&self, key: &ObjectKey, bytes: Vec<u8>) -> Result<()> {
            self.client
                .put(&self.bucket, &self.key_of(key), bytes)
                .await
        }

        fn source_uri(&self, key: &ObjectKey) -> String {
            format!("s3://{}/{}", self.bucket, self.key_of(key))
        }

        async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>> {
            let size = self.client.head(&self.bucket, &self.key_of(key)).await?;
            Ok(size.map(|size_bytes| ObjectMeta { size_bytes }))
        }

        fn key_of_source(&self, uri: &str) -> Option<ObjectKey> {
            let in_bucket = uri.strip_prefix("s3://")?.strip_prefix(&self.bucket)?;
            let mut key = in_bucket.strip_prefix('/')?;
            if !self.prefix.is_empty() {
                key = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
            }
            ObjectKey::new(key).ok()
        }

        async fn list(&self, prefix: &ObjectKey) -> Result<Vec<ObjectKey>> {
            let under = format!("{}/", self.key_of(prefix));
            let strip = self.key_of(prefix).len() - prefix.as_str().len();
            let listed = self.client.list(&self.bucket, &under).await?;
            Ok(listed
                .into_iter()
                .filter_map(|(k, _)| ObjectKey::new(&k[strip..]).ok())
                .collect())
        }

        async fn delete(&self, keys: &[ObjectKey]) -> Result<()> {
            for key in keys {
                self.client.delete(&self.bucket, &self.key_of(key)).await?;
            }
            Ok(())
        }
    }
}
