//! The job store suite, run against PostgreSQL (`postgres::…`) and SQLite (`sqlite::…`).
//! PostgreSQL: `DOCFLEET_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres);
//! if it is down the tests fail and say to run `./scripts/services postgres`.

mod cases;
mod common;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(crate::common::Backend::Postgres, crate::cases::$case).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(crate::common::Backend::Sqlite, crate::cases::$case).await;
                }
            )*
        }
    };
}

suite!(
    create_is_idempotent,
    start_then_succeed,
    start_on_finished_job_acks,
    start_on_missing_job_is_not_found,
    start_refuses_live_lease_of_other_worker,
    other_worker_cannot_transition,
    stale_worker_cannot_overwrite_newer_outcome,
    fail_retries_then_terminal_is_dead,
    fail_after_max_attempts_is_dead,
    release_does_not_count_the_attempt,
    extend_lease_keeps_the_job,
    lease_next_is_fifo,
    lease_next_concurrent_leasers_claim_disjoint_sets,
    lease_next_reclaims_expired_lease,
    lease_next_dead_letters_exhausted_expired_lease,
    lease_next_waits_for_retry_delay,
    table_queue_delivers_rows_as_messages,
    table_queue_carries_the_rows_trace_context,
    list_filters_and_pages,
    counts_by_state_per_tenant,
    batch_counts_are_per_tenant_and_batch,
    revive_requeues_only_the_tenants_dead_jobs,
    get_for_tenant_is_scoped,
    migrations_rerun_on_reconnect,
    tenants_and_keys,
    profiles_are_versioned_per_tenant,
    key_roles_round_trip,
    audit_appends_and_lists_newest_first,
    audit_pages_by_seq_and_filters_by_action,
    audit_lists_are_per_tenant,
    audit_log_is_append_only,
    document_lock_refuses_a_second_job,
    document_lock_is_retaken_by_its_job,
    document_lock_expires_and_is_taken_over,
    document_lock_is_extended_by_its_holder_only,
    document_lock_is_unlocked_by_its_holder_only,
    document_locks_of_distinct_documents_are_independent,
    document_lock_concurrent_takers_one_wins,
    defer_releases_and_waits_before_the_next_claim,
);

#[tokio::test]
async fn connect_refuses_unknown_scheme() {
    let err = docfleet_jobstore::connect("mysql://localhost/db")
        .await
        .err()
        .expect("an unknown scheme is refused");
    assert!(matches!(err, docfleet_jobstore::Error::InvalidUrl { .. }));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn connect_opens_sqlite_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("q.db").display());
    let store = docfleet_jobstore::connect(&url).await.unwrap();
    store.ping().await.unwrap();
    assert!(store.create(&common::message("t")).await.unwrap());
    store.close().await;
    assert!(dir.path().join("q.db").exists());
}
