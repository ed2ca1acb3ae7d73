//! Multipart `POST /v1/jobs`: the document is stored in the object store first
//! (`<tenant>/_uploads/<sha256>/<name>`; `_uploads` cannot be a doc id, which is hex), then its
//! job is submitted with that object as the source.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use docfleet_core::job::JobOptions;
use docfleet_pipeline::store::ObjectKey;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::problem::Problem;

fn multipart_problem(e: MultipartError) -> Problem {
    Problem::new(e.status(), e.body_text())
}

/// A file name safe as one key segment: letters, digits, `.`, `_`, `-`; at most 100 bytes.
fn safe_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "upload".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Reads the `file` part (and an optional `options` part, JSON), stores the file; returns its
/// source URI and the options.
pub async fn store_upload(
    s: &ApiState,
    tenant: &str,
    mut form: Multipart,
) -> Result<(String, JobOptions), Problem> {
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut options = JobOptions::default();
    while let Some(field) = form.next_field().await.map_err(multipart_problem)? {
        match field.name() {
            Some("file") => {
                let name = safe_name(field.file_name());
                let bytes = field.bytes().await.map_err(multipart_problem)?;
                file = Some((name, bytes.to_vec()));
            }
            Some("options") => {
                let text = field.text().await.map_err(multipart_problem)?;
                options = serde_json::from_str(&text)
                    .map_err(|e| Problem::bad_request(format!("options: {e}")))?;
            }
            other => {
                return Err(Problem::bad_request(format!(
                    "unexpected form field {other:?}: send `file` (and optionally `options`)"
                )));
            }
        }
    }
    let Some((name, bytes)) = file else {
        return Err(Problem::bad_request("no `file` field in the form"));
    };
    if bytes.is_empty() {
        return Err(Problem::bad_request("the uploaded file is empty"));
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    let key = ObjectKey::new(format!("{tenant}/_uploads/{sha}/{name}"))
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    s.objects
        .put(&key, bytes)
        .await
        .map_err(|e| Problem::unavailable("storing the upload failed", e))?;
    Ok((s.objects.source_uri(&key), options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_safe_key_segments() {
        assert_eq!(safe_name(Some("report v2.pdf")), "report_v2.pdf");
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_name(Some("C:\\docs\\a.txt")), "a.txt");
        assert_eq!(safe_name(Some("..")), "upload");
        assert_eq!(safe_name(Some(".hidden")), "hidden");
        assert_eq!(safe_name(None), "upload");
        assert_eq!(safe_name(Some(&"x".repeat(300))).len(), 100);
    }
}
