//! get, get_for_tenant, list, counts, migrations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use docfleet_jobstore::{JobOutcome, JobState, ListFilter, StartOutcome};
use docfleet_queue::TraceContext;
use uuid::Uuid;

use super::LONG;
use crate::common::{Ctx, create_jobs, ids, message};

/// 4 jobs of tenant a (2 succeeded), 3 of tenant b (1 dead).
async fn fixture(ctx: &Ctx) -> (Vec<Uuid>, Vec<Uuid>) {
    let a = create_jobs(ctx.store.as_ref(), "a", 4).await;
    let b = create_jobs(ctx.store.as_ref(), "b", 3).await;
    for id in [a[0], a[2]] {
        ctx.store.start(id, "w", LONG).await.unwrap();
        assert!(
            ctx.store
                .succeed(id, "w", &JobOutcome::default())
                .await
                .unwrap()
        );
    }
    ctx.store.start(b[1], "w", LONG).await.unwrap();
    ctx.store
        .fail(b[1], "w", "bad", true, Duration::ZERO)
        .await
        .unwrap();
    (a, b)
}

/// A new job of tenant a in `batch`; returns its id.
async fn create_in_batch(ctx: &Ctx, batch: Uuid) -> Uuid {
    let msg = message("a");
    let no_trace = TraceContext::default();
    let created = ctx.store.create_in_batch(&msg, Some(batch), &no_trace);
    assert!(created.await.unwrap());
    msg.job_id
}

pub async fn list_filters_and_pages(ctx: Ctx) {
    let (a, b) = fixture(&ctx).await;
    let everything: Vec<Uuid> = a.iter().chain(&b).copied().collect();
    let all = ctx.store.list(&ListFilter::default()).await.unwrap();
    assert_eq!(ids(&all), everything);

    let succeeded = ListFilter {
        state: Some(JobState::Succeeded),
        ..ListFilter::default()
    };
    assert_eq!(
        ids(&ctx.store.list(&succeeded).await.unwrap()),
        vec![a[0], a[2]]
    );
    let queued_b = ListFilter {
        state: Some(JobState::Queued),
        tenant: Some("b".into()),
        ..ListFilter::default()
    };
    assert_eq!(
        ids(&ctx.store.list(&queued_b).await.unwrap()),
        vec![b[0], b[2]]
    );

    // Paging with the cursor: pages of 3 cover everything once, in order.
    let mut paged = Vec::new();
    let mut filter = ListFilter {
        limit: 3,
        ..ListFilter::default()
    };
    loop {
        let page = ctx.store.list(&filter).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        filter.after = Some(last.cursor());
        paged.extend(ids(&page));
    }
    assert_eq!(paged, everything);

    // Batches.
    let batch = Uuid::new_v4();
    let job = create_in_batch(&ctx, batch).await;
    let in_batch = ListFilter {
        batch_id: Some(batch),
        ..ListFilter::default()
    };
    let listed = ctx.store.list(&in_batch).await.unwrap();
    assert_eq!(ids(&listed), vec![job]);
    assert_eq!(listed[0].batch_id, Some(batch));
}

pub async fn counts_by_state_per_tenant(ctx: Ctx) {
    fixture(&ctx).await;
    let all = ctx.store.counts_by_state(None).await.unwrap();
    assert_eq!(
        (all.queued, all.succeeded, all.dead, all.running),
        (4, 2, 1, 0)
    );
    assert_eq!(all.total(), 7);
    let a = ctx.store.counts_by_state(Some("a")).await.unwrap();
    assert_eq!((a.queued, a.succeeded, a.dead), (2, 2, 0));
    let none = ctx.store.counts_by_state(Some("nobody")).await.unwrap();
    assert_eq!(none.total(), 0);
}

pub async fn batch_counts_are_per_tenant_and_batch(ctx: Ctx) {
    fixture(&ctx).await; // jobs outside any batch do not count
    let batch = Uuid::new_v4();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_in_batch(&ctx, batch).await);
    }
    ctx.store.start(ids[0], "w", LONG).await.unwrap();
    ctx.store
        .succeed(ids[0], "w", &JobOutcome::default())
        .await
        .unwrap();
    ctx.store.start(ids[1], "w", LONG).await.unwrap();
    let got = ctx.store.batch_counts("a", batch).await.unwrap().unwrap();
    assert_eq!(
        (
            got.counts.queued,
            got.counts.running,
            got.counts.succeeded,
            got.counts.total()
        ),
        (1, 1, 1, 3)
    );
    let created = ctx.store.get(ids[0]).await.unwrap().unwrap().created_at_ms;
    assert_eq!(got.first_created_at_ms, created);
    assert_eq!(ctx.store.batch_counts("b", batch).await.unwrap(), None);
    assert_eq!(
        ctx.store.batch_counts("a", Uuid::new_v4()).await.unwrap(),
        None
    );
}

pub async fn revive_requeues_only_the_tenants_dead_jobs(ctx: Ctx) {
    let (a, b) = fixture(&ctx).await; // b[1] is dead, a[0] succeeded
    assert!(
        !ctx.store.revive("a", b[1]).await.unwrap(),
        "another tenant's job"
    );
    assert!(!ctx.store.revive("a", a[0]).await.unwrap(), "not dead");
    assert!(ctx.store.revive("b", b[1]).await.unwrap());
    let row = ctx.store.get(b[1]).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.error),
        (JobState::Queued, 0, None)
    );
    assert!(!ctx.store.revive("b", b[1]).await.unwrap(), "once");
    // It runs again like a new job.
    assert!(matches!(
        ctx.store.start(b[1], "w2", LONG).await.unwrap(),
        StartOutcome::Started(_)
    ));
}

pub async fn get_for_tenant_is_scoped(ctx: Ctx) {
    let msg = message("a");
    ctx.store.create(&msg).await.unwrap();
    let own = ctx.store.get_for_tenant("a", msg.job_id).await.unwrap();
    assert_eq!(own.unwrap().job_id, msg.job_id);
    assert_eq!(
        ctx.store.get_for_tenant("b", msg.job_id).await.unwrap(),
        None
    );
    assert_eq!(ctx.store.get(Uuid::new_v4()).await.unwrap(), None);
}

pub async fn migrations_rerun_on_reconnect(ctx: Ctx) {
    let msg = message("a");
    ctx.store.create(&msg).await.unwrap();
    for _ in 0..2 {
        let again = ctx.open().await;
        again.ping().await.unwrap();
        assert!(again.get(msg.job_id).await.unwrap().is_some());
        again.close().await;
    }
    // Two stores opened at once on the same database both come up.
    let (one, two) = tokio::join!(ctx.open(), ctx.open());
    assert!(matches!(
        one.start(msg.job_id, "w1", LONG).await.unwrap(),
        StartOutcome::Started(_)
    ));
    assert!(matches!(
        two.start(msg.job_id, "w2", LONG).await.unwrap(),
        StartOutcome::LeasedByOther { .. }
    ));
    one.close().await;
    two.close().await;
}
