//! The audit trail: append, list (newest first, paged by seq), filters, tenant isolation, and
//! the table refusing every change to what is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use docfleet_jobstore::{AuditFilter, AuditOutcome, AuditRecord, AuditStore, NewAuditRecord};
use sqlx::Connection;

use crate::common::{Backend, Ctx};

fn record(tenant: &str, action: &str, n: i64) -> NewAuditRecord {
    NewAuditRecord {
        at_ms: 1_000 + n,
        tenant: tenant.into(),
        key_id: format!("key-{tenant}"),
        action: action.into(),
        target: (n % 2 == 0).then(|| format!("target-{n}")),
        request_id: format!("req-{tenant}-{n}"),
        outcome: if n % 3 == 0 {
            AuditOutcome::Denied
        } else {
            AuditOutcome::Ok
        },
        status: (n % 5 != 0).then_some(200 + n as u16),
        detail: (action == "search").then(|| r#"{"mode":"hybrid","top_k":10}"#.to_owned()),
    }
}

fn filter(tenant: &str, limit: u32) -> AuditFilter {
    AuditFilter {
        tenant: Some(tenant.into()),
        limit,
        ..AuditFilter::default()
    }
}

/// The page of acme's records (3) older than `page`.
async fn older_page(a: &dyn AuditStore, page: &[AuditRecord]) -> Vec<AuditRecord> {
    let before = AuditFilter {
        before_seq: Some(page.last().expect("a page").seq),
        ..filter("acme", 3)
    };
    a.list(&before).await.unwrap()
}

fn request_ids(records: &[AuditRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

pub async fn audit_appends_and_lists_newest_first(ctx: Ctx) {
    let a = ctx.store.audit();
    let mut seqs = Vec::new();
    for n in 1..=4 {
        let rec = record("acme", "job.submit", n);
        seqs.push(a.append(&rec).await.unwrap());
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs increase: {seqs:?}"
    );
    let got = a.list(&filter("acme", 10)).await.unwrap();
    assert_eq!(
        request_ids(&got),
        ["req-acme-4", "req-acme-3", "req-acme-2", "req-acme-1"],
        "newest first"
    );
    // Every field round-trips.
    let want = record("acme", "job.submit", 4);
    let last = &got[0];
    assert_eq!(last.seq, seqs[3]);
    assert_eq!(
        (
            last.at_ms,
            last.tenant.as_str(),
            last.key_id.as_str(),
            last.action.as_str(),
            last.target.as_deref(),
            last.outcome,
            last.status,
            last.detail.as_deref()
        ),
        (
            want.at_ms,
            "acme",
            "key-acme",
            "job.submit",
            Some("target-4"),
            AuditOutcome::Ok,
            Some(204),
            None
        )
    );
    let third = &got[1];
    assert_eq!(
        (third.target.as_deref(), third.outcome),
        (None, AuditOutcome::Denied)
    );
    let search = a.append(&record("acme", "search", 5)).await.unwrap();
    let s = a.list(&filter("acme", 1)).await.unwrap();
    assert_eq!(s[0].seq, search);
    assert_eq!(s[0].status, None);
    assert_eq!(
        s[0].detail.as_deref(),
        Some(r#"{"mode":"hybrid","top_k":10}"#)
    );
}

pub async fn audit_pages_by_seq_and_filters_by_action(ctx: Ctx) {
    let a = ctx.store.audit();
    for n in 1..=7 {
        let action = if n % 2 == 0 { "search" } else { "job.submit" };
        a.append(&record("acme", action, n)).await.unwrap();
    }
    let first = a.list(&filter("acme", 3)).await.unwrap();
    assert_eq!(
        request_ids(&first),
        ["req-acme-7", "req-acme-6", "req-acme-5"]
    );
    let second = older_page(a, &first).await;
    assert_eq!(
        request_ids(&second),
        ["req-acme-4", "req-acme-3", "req-acme-2"]
    );
    let third = older_page(a, &second).await;
    assert_eq!(
        request_ids(&third),
        ["req-acme-1"],
        "the last page is short"
    );
    let window = a
        .list(&AuditFilter {
            after_seq: Some(third[0].seq),
            before_seq: Some(first[2].seq),
            ..filter("acme", 10)
        })
        .await
        .unwrap();
    assert_eq!(
        request_ids(&window),
        ["req-acme-4", "req-acme-3", "req-acme-2"],
        "after and before: a window"
    );
    let searches = a
        .list(&AuditFilter {
            action: Some("search".into()),
            ..filter("acme", 10)
        })
        .await
        .unwrap();
    assert_eq!(
        request_ids(&searches),
        ["req-acme-6", "req-acme-4", "req-acme-2"]
    );
    let paged_searches = a
        .list(&AuditFilter {
            action: Some("search".into()),
            before_seq: Some(searches[0].seq),
            ..filter("acme", 1)
        })
        .await
        .unwrap();
    assert_eq!(request_ids(&paged_searches), ["req-acme-4"]);
    assert!(
        a.list(&AuditFilter {
            action: Some("key.revoke".into()),
            ..filter("acme", 10)
        })
        .await
        .unwrap()
        .is_empty()
    );
}

pub async fn audit_lists_are_per_tenant(ctx: Ctx) {
    let a = ctx.store.audit();
    for n in 1..=3 {
        a.append(&record("acme", "job.submit", n)).await.unwrap();
        a.append(&record("globex", "job.submit", n)).await.unwrap();
    }
    let globex = a.list(&filter("globex", 100)).await.unwrap();
    assert_eq!(globex.len(), 3);
    assert!(globex.iter().all(|r| r.tenant == "globex"), "{globex:?}");
    // A's cursor does not leak A's rows into B's pages either.
    let acme = a.list(&filter("acme", 100)).await.unwrap();
    let paged = a
        .list(&AuditFilter {
            before_seq: Some(acme[0].seq + 1),
            ..filter("globex", 100)
        })
        .await
        .unwrap();
    assert!(paged.iter().all(|r| r.tenant == "globex"), "{paged:?}");
    assert!(a.list(&filter("nobody", 100)).await.unwrap().is_empty());
    let all = a
        .list(&AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        6,
        "no tenant: every tenant's (the operator's view)"
    );
}

/// Raw SQL on the same database, as any client with the application's credentials could send.
async fn raw(ctx: &Ctx, sql: &'static str) -> Result<u64, sqlx::Error> {
    match ctx.backend {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&ctx.url).await?;
            let done = sqlx::raw_sql(sql).execute(&mut conn).await;
            let _ = conn.close().await;
            Ok(done?.rows_affected())
        }
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&ctx.url);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            let done = sqlx::raw_sql(sql).execute(&mut conn).await;
            let _ = conn.close().await;
            Ok(done?.rows_affected())
        }
    }
}

pub async fn audit_log_is_append_only(ctx: Ctx) {
    let a = ctx.store.audit();
    a.append(&record("acme", "key.revoke", 1)).await.unwrap();
    a.append(&record("acme", "key.create", 2)).await.unwrap();
    let before = a.list(&filter("acme", 10)).await.unwrap();
    for sql in [
        "UPDATE audit_log SET outcome = 'ok'",
        "UPDATE audit_log SET tenant = 'globex' WHERE action = 'key.revoke'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'key.revoke'",
    ] {
        let err = raw(&ctx, sql)
            .await
            .expect_err("the audit log refuses changes");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if ctx.backend == Backend::Postgres {
        let err = raw(&ctx, "TRUNCATE audit_log")
            .await
            .expect_err("no truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
        // Statement-level: refused even when nothing matches.
        let err = raw(&ctx, "DELETE FROM audit_log WHERE seq < 0")
            .await
            .expect_err("refused when nothing matches");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(
        a.list(&filter("acme", 10)).await.unwrap(),
        before,
        "unchanged"
    );
    // Appending still works, through the store and raw.
    raw(
        &ctx,
        "INSERT INTO audit_log (at_ms, tenant, key_id, action, request_id, outcome) \
         VALUES (9, 'acme', 'cli', 'tenant.create', 'r', 'ok')",
    )
    .await
    .unwrap();
    a.append(&record("acme", "search", 3)).await.unwrap();
    assert_eq!(a.list(&filter("acme", 10)).await.unwrap().len(), 4);
}
