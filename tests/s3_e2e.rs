//! Documents in S3, artifacts in S3, jobs through SQS: all against moto's server, with real
//! `docfleet` processes, the real model and PDFium.
//!
//! A prefix of 100 documents (text, Markdown, HTML and PDFs) plus one object over the size cap is
//! enqueued with `docfleet enqueue s3://bucket/prefix/` and processed by a worker whose artifact
//! store is another bucket: 100 jobs succeed with their three artifacts in that bucket under the
//! configured prefix, the big one is dead with a reason that names it and the sizes, and moto's
//! request recording shows the worker only asked for its HEAD, never its bytes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;

use docfleet_pipeline::store::s3::S3Client;
use serde_json::Value;
use support::aws::{aws_endpoint, create_bucket, object_keys, s3};
use support::corpus::small_docs;
use support::fleet::{Fleet, Kind};
use support::{block_on, fixtures, json, ok};

const MIB: u64 = 1024 * 1024;

fn upload(client: &S3Client, bucket: &str, key: &str, path: &Path) {
    block_on(client.put(bucket, key, std::fs::read(path).unwrap())).unwrap();
}

/// moto's request recorder (`/moto-api/recorder/…`): every request the worker makes.
fn moto_api(action: &str) -> String {
    let url = format!("{}/moto-api/recorder/{action}", aws_endpoint());
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            if action == "download-recording" {
                "GET"
            } else {
                "POST"
            },
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_hundred_document_prefix_through_sqs_with_artifacts_in_a_bucket() {
    let fleet = Fleet::new(Kind::Sqs, "s3");
    let client = s3();
    let id = &fleet.queue_name[fleet.queue_name.len() - 8..];
    let (docs, artifacts) = (format!("docs-{id}"), format!("artifacts-{id}"));
    create_bucket(&client, &docs);
    create_bucket(&client, &artifacts);

    // 94 notes + the 6 fixture documents = 100, and one object over the 2 MiB cap.
    let notes = small_docs(&fleet.data_dir().join("notes"), 94);
    for path in &notes {
        let name = path.file_name().unwrap().to_str().unwrap();
        upload(&client, &docs, &format!("batch/notes/{name}"), path);
    }
    for name in [
        "chess-openings.pdf",
        "history-of-lighthouses.pdf",
        "volcanic-eruptions.pdf",
        "marathon-training.md",
        "ocean-tides.html",
        "honeybee-swarms.txt",
    ] {
        upload(
            &client,
            &docs,
            &format!("batch/{name}"),
            &fixtures().join("docs").join(name),
        );
    }
    let big: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .cycle()
        .take((3 * MIB) as usize)
        .collect();
    block_on(client.put(&docs, "batch/huge.pdf", big)).unwrap();
    // Outside the prefix: must not be enqueued.
    block_on(client.put(&docs, "other/x.txt", b"not this one".to_vec())).unwrap();

    let store_url = format!("s3://{artifacts}/fleet/run-1");
    let out = ok(fleet
        .cmd()
        .env("DOCFLEET_OBJECT_STORE_URL", &store_url)
        .args(["enqueue", "--json", &format!("s3://{docs}/batch/")])
        .output()
        .unwrap());
    let enqueued = json(&out)["jobs"].as_array().unwrap().clone();
    assert_eq!(enqueued.len(), 101, "one job per object under the prefix");
    assert!(enqueued.iter().all(|j| {
        j["source"]
            .as_str()
            .unwrap()
            .starts_with(&format!("s3://{docs}/batch/"))
    }));

    moto_api("reset-recording");
    moto_api("start-recording");
    let mut worker = fleet.spawn_worker(
        "s3-worker",
        &[
            ("DOCFLEET_EXIT_WHEN_IDLE", "true"),
            ("DOCFLEET_OBJECT_STORE_URL", store_url.as_str()),
            ("DOCFLEET_MAX_FILE_BYTES", "2097152"),
            ("DOCFLEET_CONCURRENCY", "8"),
        ],
    );
    let status = worker.wait(std::time::Duration::from_secs(300));
    moto_api("stop-recording");
    assert!(
        status.success(),
        "worker exited {status}:\n{}",
        worker.log_text()
    );

    let jobs = fleet.jobs();
    let (done, dead): (Vec<&Value>, Vec<&Value>) =
        jobs.iter().partition(|j| j["state"] == "succeeded");
    assert_eq!(done.len(), 100, "{jobs:#?}");
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let error = dead[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("s3://{docs}/batch/huge.pdf"))
            && error.contains("3145728 bytes, over the limit of 2097152"),
        "{error}"
    );

    // Every artifact a job lists is in the bucket under the store's prefix, and nothing else is.
    let listed = object_keys(&client, &artifacts, "");
    let mut expected: Vec<String> = done
        .iter()
        .flat_map(|j| j["artifacts"].as_array().unwrap().clone())
        .map(|k| format!("fleet/run-1/{}", k.as_str().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(
        expected.len(),
        300,
        "text, chunks and manifest per document"
    );
    assert_eq!(listed, expected);
    let manifest_key = listed
        .iter()
        .find(|k| k.ends_with("manifest.json"))
        .unwrap();
    let manifest: Value =
        serde_json::from_slice(&block_on(client.get(&artifacts, manifest_key, MIB)).unwrap())
            .unwrap();
    assert!(
        manifest["source"]
            .as_str()
            .unwrap()
            .starts_with(&format!("s3://{docs}/batch/"))
    );
    fleet.assert_broker_drained(1);

    // The over-cap object was looked at (HEAD), never fetched (GET).
    let recording = moto_api("download-recording");
    let requests: Vec<Value> = recording
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let on_big = |method: &str| {
        requests
            .iter()
            .filter(|r| {
                r["method"] == method && r["url"].as_str().unwrap().contains("/batch/huge.pdf")
            })
            .count()
    };
    assert!(on_big("HEAD") >= 1, "the worker checked the object's size");
    assert_eq!(on_big("GET"), 0, "the over-cap object was not downloaded");
    assert!(
        requests.iter().any(|r| r["method"] == "GET"
            && r["url"]
                .as_str()
                .unwrap()
                .contains("/batch/ocean-tides.html")),
        "the recording sees the worker's downloads"
    );
}
