//! The S3 store and S3 sources against moto's server (`./scripts/services moto` starts it; the
//! endpoint is `DOCFLEET_TEST_AWS_ENDPOINT`, default http://127.0.0.1:4566; credentials and region
//! from the usual AWS variables, which ./scripts/test sets to dummies for moto). The tests fail,
//! never skip, when it is down. Each test uses a fresh bucket.
#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_core::source::SourceUri;
use docfleet_pipeline::Error;
use docfleet_pipeline::source::SourceReader;
use docfleet_pipeline::store::s3::{S3Client, S3Config, S3Store};
use docfleet_pipeline::store::{ObjectKey, ObjectMeta, ObjectStore};

const MIB: u64 = 1024 * 1024;

fn endpoint() -> String {
    std::env::var("DOCFLEET_TEST_AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

fn config() -> S3Config {
    S3Config {
        endpoint_url: Some(endpoint()),
        region: Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())),
        force_path_style: true,
        multipart_threshold_bytes: 6 * MIB,
        part_bytes: 5 * MIB,
        max_attempts: 2,
    }
}

/// A client and a fresh bucket.
async fn bucket(test: &str) -> (S3Client, String) {
    let client = S3Client::new(&config()).await;
    let name = format!(
        "t-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    client
        .sdk()
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "S3 (moto) unreachable at {} ({}): start it with `./scripts/services moto`, and \
                 set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (any value for moto) — \
                 ./scripts/test does both",
                endpoint(),
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    (client, name)
}

/// Bytes that do not repeat with the part size, so a part out of order would show.
fn pattern(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn store_round_trips_under_a_prefix() {
    let (client, bucket) = bucket("store").await;
    let store = S3Store::new(client.clone(), &bucket, "fleet/prod");
    let key = ObjectKey::artifact("acme", "doc1", "sha", "text.json").unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    let missing = store.get(&key).await.unwrap_err();
    assert!(!missing.is_retryable(), "{missing}");
    store.put(&key, b"{\"a\":1}".to_vec()).await.unwrap();
    store.put(&key, b"{\"a\":2}".to_vec()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), b"{\"a\":2}");
    assert_eq!(
        store.head(&key).await.unwrap(),
        Some(ObjectMeta { size_bytes: 7 })
    );
    // The same key layout as the local store, under the prefix.
    let listed = client.list(&bucket, "").await.unwrap();
    assert_eq!(
        listed,
        [("fleet/prod/acme/doc1/sha/text.json".to_owned(), 7)]
    );
}

#[tokio::test]
async fn store_lists_and_deletes_a_prefix_and_maps_sources_back_to_keys() {
    let (client, bucket) = bucket("delete").await;
    let store = S3Store::new(client.clone(), &bucket, "fleet");
    let k = |s: &str| ObjectKey::new(s).unwrap();
    for key in [
        "acme/d/v1/a.json",
        "acme/d/v2/b.json",
        "acme/dd/x",
        "acme/other/a",
    ] {
        store.put(&k(key), b"x".to_vec()).await.unwrap();
    }
    let listed = store.list(&k("acme/d")).await.unwrap();
    assert_eq!(listed, [k("acme/d/v1/a.json"), k("acme/d/v2/b.json")]);

    let uri = store.source_uri(&k("acme/d/v1/a.json"));
    assert_eq!(uri, format!("s3://{bucket}/fleet/acme/d/v1/a.json"));
    assert_eq!(store.key_of_source(&uri), Some(k("acme/d/v1/a.json")));
    assert_eq!(
        store.key_of_source(&format!("s3://{bucket}/acme/d/v1/a.json")),
        None
    );
    assert_eq!(
        store.key_of_source("s3://other/fleet/acme/d/v1/a.json"),
        None
    );

    store.delete(&listed).await.unwrap();
    store.delete(&listed).await.unwrap(); // already gone: fine
    let left: Vec<String> = client
        .list(&bucket, "")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(left, ["fleet/acme/dd/x", "fleet/acme/other/a"]);
}

#[tokio::test]
async fn large_objects_go_up_in_parts_and_come_back_whole() {
    let (client, bucket) = bucket("multipart").await;
    let store = S3Store::new(client.clone(), &bucket, "");
    let key = ObjectKey::new("acme/doc/sha/chunks.jsonl").unwrap();
    let bytes = pattern(12 * MIB + 123);
    store.put(&key, bytes.clone()).await.unwrap();
    let head = client
        .sdk()
        .head_object()
        .bucket(&bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    // A multipart object's ETag is "<md5 of the part md5s>-<parts>": 5 + 5 + 2 MiB.
    let etag = head.e_tag().unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "ETag {etag}");
    assert!(
        store.get(&key).await.unwrap() == bytes,
        "the object came back different"
    );
    let uploads = client
        .sdk()
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "no upload left open");
}

#[tokio::test]
async fn sources_are_read_with_the_size_cap_checked_first() {
    let (client, bucket) = bucket("sources").await;
    let reader = SourceReader::new(config());
    client
        .put(&bucket, "in/small.txt", b"hello".to_vec())
        .await
        .unwrap();
    client
        .put(&bucket, "in/big.pdf", pattern(3 * MIB))
        .await
        .unwrap();

    let small = SourceUri::parse(&format!("s3://{bucket}/in/small.txt")).unwrap();
    assert_eq!(reader.read(&small, 5).await.unwrap(), b"hello");

    // Over the cap: refused from the HEAD, with the sizes in the message.
    let big = SourceUri::parse(&format!("s3://{bucket}/in/big.pdf")).unwrap();
    let err = reader.read(&big, MIB).await.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { size_bytes, limit_bytes } if size_bytes == 3 * MIB && limit_bytes == MIB),
        "{err}"
    );
    assert!(!err.is_retryable());
    // The GET path on its own (the object grew after the HEAD) stops at the announced length.
    let err = client.get(&bucket, "in/big.pdf", MIB).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");

    let gone = SourceUri::parse(&format!("s3://{bucket}/in/gone.pdf")).unwrap();
    let err = reader.read(&gone, MIB).await.unwrap_err();
    assert!(
        matches!(err, Error::SourceNotFound(ref s) if s.contains("in/gone.pdf")),
        "{err}"
    );
}

#[tokio::test]
async fn listing_pages_through_a_large_prefix() {
    let (client, bucket) = bucket("list").await;
    // Over one page (1,000 keys), plus a folder placeholder and a neighbour outside the prefix.
    let mut puts = tokio::task::JoinSet::new();
    for i in 0..1003 {
        let (client, bucket) = (client.clone(), bucket.clone());
        puts.spawn(async move {
            client
                .put(&bucket, &format!("batch/doc-{i:04}.txt"), b"x".to_vec())
                .await
        });
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap().unwrap();
    }
    client.put(&bucket, "batch/", Vec::new()).await.unwrap();
    client
        .put(&bucket, "batch2/other.txt", b"x".to_vec())
        .await
        .unwrap();
    let listed = client.list(&bucket, "batch/").await.unwrap();
    assert_eq!(listed.len(), 1003);
    assert_eq!(listed[0].0, "batch/doc-0000.txt");
    assert_eq!(listed[1002].0, "batch/doc-1002.txt");
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error_that_says_so() {
    let client = S3Client::new(&config()).await;
    let store = S3Store::new(client, "no-such-bucket-docfleet", "");
    let key = ObjectKey::new("a/b").unwrap();
    let err = store.put(&key, b"x".to_vec()).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("the bucket does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retryable() {
    let cfg = S3Config {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 1,
        ..config()
    };
    let store = S3Store::new(S3Client::new(&cfg).await, "bucket", "");
    let err = store
        .head(&ObjectKey::new("a/b").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
