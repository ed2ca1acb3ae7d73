//! Which sources a tenant may submit through the API. Workers read whatever their credentials
//! reach, so the API is where a tenant is kept to its own documents:
//! - `file://` only with `--api-allow-file-sources` (single-user setups);
//! - nothing inside the fleet's own object store, which holds every tenant's artifacts and
//!   uploads (a tenant's uploads are submitted by the upload route itself);
//! - with `--api-source-prefixes`, only under one of those, `{tenant}` standing for the caller.
//!
//! Batch prefixes are checked the same way before they are listed, so a refused prefix is
//! never listed either.

use anyhow::{Result, bail};

use super::problem::Problem;
use axum::http::StatusCode;
use docfleet_pipeline::store::s3::config::parse_store_url;

#[derive(Debug, Clone, Default)]
pub struct SourcePolicy {
    allow_file: bool,
    /// The object store's bucket and key prefix, when it is in S3.
    store: Option<(String, String)>,
    /// `s3://bucket/prefix` patterns with `{tenant}`; empty: any bucket.
    allowed: Vec<String>,
}

impl SourcePolicy {
    pub fn new(
        allow_file: bool,
        object_store_url: Option<&str>,
        allowed: &[String],
    ) -> Result<Self> {
        for pattern in allowed {
            let probe = pattern.replace("{tenant}", "tenant");
            if parse_store_url(&probe).is_none() {
                bail!(
                    "--api-source-prefixes: {pattern:?} is not s3://bucket[/prefix] \
                     ({{tenant}} may stand for the caller's tenant)"
                );
            }
        }
        Ok(Self {
            allow_file,
            store: object_store_url.and_then(parse_store_url),
            allowed: allowed.to_vec(),
        })
    }

    /// Whether `tenant` may submit `uri`, a document or (for batches) a prefix to list.
    pub fn check(&self, tenant: &str, uri: &str) -> Result<(), Problem> {
        let forbidden =
            |why: String| Err(Problem::new(StatusCode::FORBIDDEN, format!("{uri}: {why}")));
        if uri.starts_with("file://") {
            if !self.allow_file {
                return Err(Problem::bad_request(format!(
                    "{uri}: file:// sources are disabled on this API (DOCFLEET_API_ALLOW_FILE_SOURCES); use s3://bucket/key"
                )));
            }
            return Ok(());
        }
        let Some(rest) = uri.strip_prefix("s3://") else {
            return Ok(()); // not a source at all: the message's own validation says why
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some((store_bucket, store_prefix)) = &self.store {
            // A listing of `key` reaches into the store when either is a prefix of the other.
            let overlaps = bucket == store_bucket
                && (store_prefix.is_empty()
                    || key.starts_with(store_prefix.as_str())
                    || store_prefix.starts_with(key));
            if overlaps {
                return forbidden(
                    "this is the fleet's object store (every tenant's artifacts and uploads); \
                     upload documents instead"
                        .into(),
                );
            }
        }
        if self.allowed.is_empty() {
            return Ok(());
        }
        let mine = self
            .allowed
            .iter()
            .map(|p| p.replace("{tenant}", tenant))
            .any(|p| uri.starts_with(&p));
        if mine {
            Ok(())
        } else {
            forbidden(format!(
                "outside the source prefixes allowed to tenant {tenant} (DOCFLEET_API_SOURCE_PREFIXES)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(p: &SourcePolicy, tenant: &str, uri: &str) -> u16 {
        p.check(tenant, uri).map_or_else(|e| e.status, |()| 200)
    }

    #[test]
    fn the_object_store_is_out_of_reach() {
        let p = SourcePolicy::new(false, Some("s3://artifacts/fleet/prod"), &[]).unwrap();
        for uri in [
            "s3://artifacts/fleet/prod/acme/_uploads/ab/report.pdf",
            "s3://artifacts/fleet/prod/",
            "s3://artifacts/fleet/",
            "s3://artifacts/",
            "s3://artifacts",
            "s3://artifacts/fleet/prodx/a.pdf", // listed with the same string prefix
        ] {
            assert_eq!(status(&p, "globex", uri), 403, "{uri}");
        }
        assert_eq!(status(&p, "globex", "s3://artifacts/other/a.pdf"), 200);
        assert_eq!(status(&p, "globex", "s3://inbox/fleet/prod/a.pdf"), 200);
        assert_eq!(status(&p, "globex", "file:///etc/passwd"), 400);

        // A store without a prefix is its whole bucket.
        let p = SourcePolicy::new(true, Some("s3://artifacts"), &[]).unwrap();
        assert_eq!(status(&p, "acme", "s3://artifacts/x.pdf"), 403);
        assert_eq!(status(&p, "acme", "file:///srv/docs/a.pdf"), 200);
        // A local store is not reachable by s3:// URIs.
        let p = SourcePolicy::new(false, Some("/var/lib/docfleet/objects"), &[]).unwrap();
        assert_eq!(status(&p, "acme", "s3://artifacts/x.pdf"), 200);
    }

    #[test]
    fn tenants_keep_to_their_prefixes() {
        let allowed = [
            "s3://inbox/{tenant}/".to_owned(),
            "s3://public-docs".to_owned(),
        ];
        let p = SourcePolicy::new(false, Some("s3://inbox/_artifacts"), &allowed).unwrap();
        assert_eq!(status(&p, "acme", "s3://inbox/acme/q3/report.pdf"), 200);
        assert_eq!(status(&p, "acme", "s3://inbox/acme/"), 200);
        assert_eq!(status(&p, "globex", "s3://inbox/acme/q3/report.pdf"), 403);
        assert_eq!(status(&p, "globex", "s3://inbox/"), 403);
        assert_eq!(status(&p, "globex", "s3://inbox/acm"), 403);
        assert_eq!(status(&p, "globex", "s3://public-docs/manual.pdf"), 200);
        assert_eq!(status(&p, "globex", "s3://inbox/_artifacts/acme/x"), 403);
        let e = p.check("globex", "s3://inbox/acme/x.pdf").unwrap_err();
        assert!(
            e.detail.contains("globex") && e.detail.contains("s3://inbox/acme/x.pdf"),
            "{}",
            e.detail
        );
        assert!(SourcePolicy::new(false, None, &["inbox/{tenant}".to_owned()]).is_err());
        assert!(SourcePolicy::new(false, None, &["s3://Bad_Bucket/x".to_owned()]).is_err());
    }
}
