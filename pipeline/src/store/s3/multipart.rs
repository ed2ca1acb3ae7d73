//! Multipart upload: parts uploaded a few at a time, completed in order, aborted on failure so
//! no orphaned parts keep costing storage.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;
use tracing::warn;

use super::S3Client;
use super::client::map_err;
use crate::{Error, Result};

/// Parts in flight at once: enough to fill a link, bounded in memory (the parts are slices of
/// the one buffer, so this bounds connections, not copies).
const PARTS_IN_FLIGHT: usize = 4;

impl S3Client {
    pub(super) async fn put_multipart(&self, bucket: &str, key: &str, bytes: Bytes) -> Result<()> {
        let what = format!("multipart PUT s3://{bucket}/{key}");
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err(&what, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::store(format!("{what}: no upload id in the answer"), true))?
            .to_owned();
        match self.upload_parts(bucket, key, &upload_id, bytes).await {
            Ok(parts) => {
                let done = CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build();
                let completed = self
                    .client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(done)
                    .send()
                    .await
                    .map_err(|e| map_err(&what, e));
                if completed.is_err() {
                    self.abort(bucket, key, &upload_id).await;
                }
                completed.map(|_| ())
            }
            Err(e) => {
                self.abort(bucket, key, &upload_id).await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        bytes: Bytes,
    ) -> Result<Vec<CompletedPart>> {
        let part_bytes = self.cfg.part_bytes_for(bytes.len() as u64) as usize;
        let mut parts = Vec::new();
        let mut tasks: JoinSet<Result<CompletedPart>> = JoinSet::new();
        for (i, start) in (0..bytes.len()).step_by(part_bytes).enumerate() {
            if tasks.len() >= PARTS_IN_FLIGHT
                && let Some(done) = tasks.join_next().await
            {
                parts.push(joined(done)??);
            }
            let part_number = i32::try_from(i + 1)
                .map_err(|_| Error::store("too many parts for one upload", false))?;
            let body = bytes.slice(start..(start + part_bytes).min(bytes.len()));
            let request = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .body(ByteStream::from(body));
            let what = format!("upload part {part_number} of s3://{bucket}/{key}");
            tasks.spawn(async move {
                let out = request.send().await.map_err(|e| map_err(&what, e))?;
                Ok(CompletedPart::builder()
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .part_number(part_number)
                    .build())
            });
        }
        while let Some(done) = tasks.join_next().await {
            parts.push(joined(done)??);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    async fn abort(&self, bucket: &str, key: &str, upload_id: &str) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            warn!(bucket, key, error = %map_err("abort", e),
                  "could not abort a failed multipart upload (a bucket lifecycle rule cleans it up)");
        }
    }
}

fn joined<T>(done: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    done.map_err(|e| Error::store(format!("upload task failed: {e}"), true))
}
