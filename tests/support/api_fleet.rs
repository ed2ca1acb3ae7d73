//! The job API's end-to-end setting: a RabbitMQ + PostgreSQL fleet with two tenants, acme and
//! globex, a key each, an S3 (moto) bucket as the object store (API and worker share it for
//! uploads and artifacts), and `docfleet api` on it with file:// sources allowed.

use serde_json::Value;

use super::api::{Api, cli, start_api};
use super::aws::{create_bucket, object_keys, s3};
use super::fleet::{Fleet, Kind, Worker};

pub struct ApiFleet {
    // Before `fleet`: fields drop in order, and the API goes before its database.
    pub api: Api,
    pub fleet: Fleet,
    /// acme's key.
    pub a: String,
    /// globex's key.
    pub b: String,
    pub bucket: String,
    /// `s3://<bucket>/fleet`.
    pub store_url: String,
}

impl ApiFleet {
    pub fn start(test: &str) -> ApiFleet {
        let fleet = Fleet::new(Kind::Rabbitmq, test);
        cli(&fleet, &["tenants", "create", "acme"]);
        cli(&fleet, &["tenants", "create", "globex"]);
        let a = cli(&fleet, &["keys", "create", "acme", "--label", "e2e"]);
        let b = cli(&fleet, &["keys", "create", "globex"]);
        let bucket = format!("api-{}", &fleet.queue_name[fleet.queue_name.len() - 8..]);
        create_bucket(&s3(), &bucket);
        let store_url = format!("s3://{bucket}/fleet");
        let api = start_api(
            &fleet,
            "api",
            &[
                ("DOCFLEET_API_ALLOW_FILE_SOURCES", "true"),
                ("DOCFLEET_OBJECT_STORE_URL", &store_url),
            ],
        );
        ApiFleet {
            api,
            fleet,
            a,
            b,
            bucket,
            store_url,
        }
    }

    /// A worker on the same object store, run until every job is done.
    pub fn run_worker(&self, name: &str) -> Worker {
        self.fleet.run_worker_until_idle_with(
            name,
            &[("DOCFLEET_OBJECT_STORE_URL", self.store_url.as_str())],
        )
    }

    /// acme uploads fixtures/docs/chess-openings.pdf as `chess openings.pdf` (a multipart
    /// submit); returns the accepted job (202).
    pub fn upload_chess_openings(&self) -> Value {
        let pdf = super::fixtures().join("docs/chess-openings.pdf");
        let part = format!("file=@{};filename=chess openings.pdf", pdf.display());
        let reply = self
            .api
            .call("POST", "/v1/jobs", Some(&self.a), None, &["-F", &part]);
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.json()
    }

    /// The keys in the bucket under `prefix`.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        object_keys(&s3(), &self.bucket, prefix)
    }
}
