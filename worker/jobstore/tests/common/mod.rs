//! Test harness: each test gets its own database (a fresh PostgreSQL database, or a SQLite file
//! in a temp folder), dropped at the end even when the test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::future::Future;
use std::sync::Arc;

use docfleet_core::job::{JOB_MESSAGE_VERSION, JobMessage, JobOptions};
use docfleet_jobstore::{JobStore, StoreOptions};
use sqlx::Connection;
use uuid::Uuid;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// What a test case gets: a store, and the URL to open more connections to the same database.
#[derive(Clone)]
pub struct Ctx {
    pub store: Arc<dyn JobStore>,
    pub url: String,
    pub backend: Backend,
}

impl Ctx {
    /// Another store on the same database (another worker, or a reconnect).
    pub async fn open(&self) -> Arc<dyn JobStore> {
        self.open_with(&StoreOptions::default()).await
    }

    pub async fn open_with(&self, options: &StoreOptions) -> Arc<dyn JobStore> {
        docfleet_jobstore::connect_with(&self.url, options)
            .await
            .expect("open another store on the test database")
    }
}

/// A new job message for `tenant`.
pub fn message(tenant: &str) -> JobMessage {
    let job_id = Uuid::new_v4();
    JobMessage {
        version: JOB_MESSAGE_VERSION,
        job_id,
        tenant: tenant.to_owned(),
        source: format!("file:///docs/{job_id}.pdf"),
        options: JobOptions {
            chunk_max_tokens: Some(128),
            ..JobOptions::default()
        },
        submitted_at_unix_ms: 1_700_000_000_000,
    }
}

/// The ids of `jobs`, in order.
pub fn ids(jobs: &[docfleet_jobstore::JobRecord]) -> Vec<Uuid> {
    jobs.iter().map(|j| j.job_id).collect()
}

/// Creates `n` jobs for `tenant`, in order; returns their ids.
pub async fn create_jobs(store: &dyn JobStore, tenant: &str, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let msg = message(tenant);
        assert!(store.create(&msg).await.expect("create"));
        ids.push(msg.job_id);
    }
    ids
}

struct TestDb {
    url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("jobs.db").to_string_lossy().into_owned();
                TestDb {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("DOCFLEET_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let name = format!("docfleet_test_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is unreachable at {admin} ({e}); start it with \
                         `./scripts/services postgres` (or set DOCFLEET_TEST_POSTGRES_URL)"
                        )
                    });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create the test database");
                let _ = conn.close().await;
                let (base, query) = match admin.split_once('?') {
                    Some((base, query)) => (base, format!("?{query}")),
                    None => (admin.as_str(), String::new()),
                };
                let (server, _) = base.rsplit_once('/').expect("a postgres:// URL");
                TestDb {
                    url: format!("{server}/{name}{query}"),
                    postgres: Some((admin.clone(), name)),
                    _dir: None,
                }
            }
        }
    }

    async fn destroy(self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await
            {
                eprintln!("could not drop test database {name}: {e}");
            }
            let _ = conn.close().await;
        }
    }
}

/// Runs one case against a fresh database of `backend`, then drops the database.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::create(backend).await;
    let store = docfleet_jobstore::connect(&db.url)
        .await
        .expect("connect the job store");
    let ctx = Ctx {
        store: store.clone(),
        url: db.url.clone(),
        backend,
    };
    let result = tokio::spawn(case(ctx)).await;
    store.close().await;
    db.destroy().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
