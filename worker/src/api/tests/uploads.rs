//! Multipart `POST /v1/jobs`: the file is stored in the object store under the tenant's
//! `_uploads/<sha256>/`, then its job is submitted with that object as the source (whatever the
//! file-source setting); a form without a usable file is refused.

use axum::http::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Answer, TestApi};

const BOUNDARY: &str = "docfleet-test-boundary";

/// A form part: its name, its file name if it is a file, its content.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A multipart form of these parts.
fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        let file_name = file_name.map_or(String::new(), |f| format!("; filename=\"{f}\""));
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{file_name}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(api: &TestApi, key: &str, body: Vec<u8>) -> Answer {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    api.send_body(Method::POST, "/v1/jobs", Some(key), &content_type, body)
        .await
}

#[tokio::test]
async fn an_upload_is_stored_then_submitted_as_the_tenants_own_object() {
    // No file sources: the upload's own object is allowed all the same.
    let api = TestApi::new().await;
    let a = api.member("acme").await;
    let content = b"Chess openings: the Sicilian, the French, the Caro-Kann.";
    let options = br#"{"tags": {"team": "games"}}"#;
    let answer = upload(
        &api,
        &a,
        form(&[
            ("file", Some("../chess openings.txt"), content),
            ("options", None, options),
        ]),
    )
    .await;
    let job = answer.expect_json(202);
    let sha = hex::encode(Sha256::digest(content));
    let key = format!("acme/_uploads/{sha}/chess_openings.txt");
    let stored = api.data_dir().join("objects").join(&key);
    assert_eq!(std::fs::read(&stored).unwrap(), content);
    let source = job["source"].as_str().unwrap();
    assert!(source.ends_with(&key), "{source}");
    let row = api
        .get(&format!("/v1/jobs/{}", job["job_id"].as_str().unwrap()), &a)
        .await
        .expect_json(200);
    assert_eq!(row["source"], source);
    assert_eq!(row["options"]["tags"], json!({"team": "games"}));
}

#[tokio::test]
async fn forms_without_a_usable_file_are_refused() {
    let api = TestApi::new().await;
    let a = api.member("acme").await;
    let bad_forms: [&[Part<'_>]; 5] = [
        &[("other", Some("x.txt"), b"x")],
        &[("options", None, b"{}")],
        &[("file", Some("empty.txt"), b"")],
        &[
            ("file", Some("a.txt"), b"a"),
            ("options", None, b"{not json"),
        ],
        &[
            ("file", Some("a.txt"), b"a"),
            (
                "options",
                None,
                br#"{"batch_callback_url": "https://hooks.example/b"}"#,
            ),
        ],
    ];
    for parts in bad_forms {
        upload(&api, &a, form(parts)).await.assert_problem(400);
    }
    assert_eq!(
        api.get("/v1/jobs", &a).await.expect_json(200)["jobs"],
        json!([])
    );
}
