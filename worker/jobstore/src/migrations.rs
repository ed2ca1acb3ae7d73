//! The schema, embedded. `migrations/postgres` and `migrations/sqlite` hold the same schema in
//! each dialect; they are built into a `Migrator` here rather than with `sqlx::migrate!`, which
//! would need sqlx's `macros` feature (a second build of both drivers, SQLite's C included).
//! Versions and checksums are those `migrate!` would record, so either can run them later.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::migrate::{Migrate, Migration, MigrationType, Migrator};
use sqlx::{Acquire, SqlSafeStr};

use crate::error::Result;

/// (version, description, SQL)
type Source = &'static [(i64, &'static str, &'static str)];

pub(crate) const POSTGRES: Source = &[
    (
        1,
        "jobs",
        include_str!("../migrations/postgres/0001_jobs.sql"),
    ),
    (
        2,
        "run after",
        include_str!("../migrations/postgres/0002_run_after.sql"),
    ),
    (
        3,
        "tenants",
        include_str!("../migrations/postgres/0003_tenants.sql"),
    ),
    (
        4,
        "document locks",
        include_str!("../migrations/postgres/0004_document_locks.sql"),
    ),
    (
        5,
        "trace context",
        include_str!("../migrations/postgres/0005_trace_context.sql"),
    ),
    (
        6,
        "profiles",
        include_str!("../migrations/postgres/0006_profiles.sql"),
    ),
    (
        7,
        "audit",
        include_str!("../migrations/postgres/0007_audit.sql"),
    ),
];

pub(crate) const SQLITE: Source = &[
    (
        1,
        "jobs",
        include_str!("../migrations/sqlite/0001_jobs.sql"),
    ),
    (
        2,
        "run after",
        include_str!("../migrations/sqlite/0002_run_after.sql"),
    ),
    (
        3,
        "tenants",
        include_str!("../migrations/sqlite/0003_tenants.sql"),
    ),
    (
        4,
        "document locks",
        include_str!("../migrations/sqlite/0004_document_locks.sql"),
    ),
    (
        5,
        "trace context",
        include_str!("../migrations/sqlite/0005_trace_context.sql"),
    ),
    (
        6,
        "profiles",
        include_str!("../migrations/sqlite/0006_profiles.sql"),
    ),
    (
        7,
        "audit",
        include_str!("../migrations/sqlite/0007_audit.sql"),
    ),
];

fn migrator(source: Source) -> Migrator {
    Migrator::with_migrations(
        source
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Applies the missing migrations. Two processes opening one SQLite file at once can both see
/// a migration as missing (SQLite has no migration lock); the loser's run fails and a second
/// run finds it applied, hence one retry. PostgreSQL runs take an advisory lock.
pub(crate) async fn run<'a, A>(source: Source, db: A) -> Result<()>
where
    A: Acquire<'a> + Copy,
    <A::Connection as std::ops::Deref>::Target: Migrate,
{
    let migrator = migrator(source);
    match migrator.run(db).await {
        Ok(()) => Ok(()),
        Err(first) => {
            tracing::debug!(error = %first, "migration failed, retrying once");
            tokio::time::sleep(Duration::from_millis(200)).await;
            migrator.run(db).await.map_err(Into::into)
        }
    }
}
