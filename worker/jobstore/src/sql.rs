//! The SQL of both adapters, written once. The dialects differ only in the "now" expression
//! (unix milliseconds from the database clock) and in the row locking of the queue's claim
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has no row locks and serialises writers,
//! see `sqlite.rs`). Parameters are `$n`, which both drivers understand.

/// Every query, for one dialect.
#[derive(Debug)]
pub struct Queries {
    pub create: &'static str,
    pub start: &'static str,
    pub probe: &'static str,
    pub extend_lease: &'static str,
    pub succeed: &'static str,
    pub fail: &'static str,
    pub defer: &'static str,
    pub revive: &'static str,
    pub get: &'static str,
    pub get_for_tenant: &'static str,
    pub list: &'static str,
    pub counts: &'static str,
    pub batch_counts: &'static str,
    pub reap_expired: &'static str,
    pub claim: &'static str,
    pub lock_document: &'static str,
    pub lock_holder: &'static str,
    pub extend_document_lock: &'static str,
    pub unlock_document: &'static str,
}

macro_rules! columns {
    () => {
        "seq, job_id, tenant, source, options, batch_id, submitted_at_ms, state, attempts, \
         max_attempts, worker_id, lease_expires_at_ms, created_at_ms, updated_at_ms, \
         started_at_ms, finished_at_ms, timings, pages, chunks, points, artifacts, error, \
         traceparent, tracestate, profile_version, pii_counts"
    };
}

/// A row a worker may take: queued, or running under an expired lease.
macro_rules! claimable {
    ($now:literal) => {
        concat!(
            "(state IN ('queued', 'failed') OR (state = 'running' AND lease_expires_at_ms <= ",
            $now,
            "))"
        )
    };
}

/// A queued row whose retry delay (`fail`'s `retry_after`) has passed. Only the job-table queue
/// waits for it; a broker that delivers a message has already applied its own delay.
macro_rules! due {
    ($now:literal) => {
        concat!("(run_after_ms IS NULL OR run_after_ms <= ", $now, ")")
    };
}

/// The running row of an expired lease after its last allowed attempt.
macro_rules! exhausted {
    ($now:literal) => {
        concat!(
            "state = 'running' AND lease_expires_at_ms <= ",
            $now,
            " AND attempts >= max_attempts"
        )
    };
}

/// `SET` items that hand the row to worker `$w` for `$l` milliseconds, counting the attempt.
macro_rules! take {
    ($now:literal, $w:literal, $l:literal) => {
        concat!(
            "state = 'running', attempts = attempts + 1, run_after_ms = NULL, worker_id = ",
            $w,
            ", lease_expires_at_ms = ",
            $now,
            " + ",
            $l,
            ", started_at_ms = ",
            $now,
            ", updated_at_ms = ",
            $now
        )
    };
}

macro_rules! queries {
    (now: $now:literal, skip_locked: $skip:literal) => {
        Queries {
            create: concat!(
                "INSERT INTO jobs (job_id, tenant, source, options, submitted_at_ms, state, \
                 attempts, max_attempts, batch_id, traceparent, tracestate, created_at_ms, \
                 updated_at_ms) VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, ",
                $now,
                ", ",
                $now,
                ") ON CONFLICT (job_id) DO NOTHING"
            ),
            start: concat!(
                "UPDATE jobs SET ",
                take!($now, "$2", "$3"),
                " WHERE job_id = $1 AND (",
                claimable!($now),
                " OR (state = 'running' AND worker_id = $2)) RETURNING ",
                columns!()
            ),
            probe: "SELECT state, worker_id, lease_expires_at_ms FROM jobs WHERE job_id = $1",
            extend_lease: concat!(
                "UPDATE jobs SET lease_expires_at_ms = ",
                $now,
                " + $3, updated_at_ms = ",
                $now,
                " WHERE job_id = $1 AND state = 'running' AND worker_id = $2"
            ),
            succeed: concat!(
                "UPDATE jobs SET state = 'succeeded', lease_expires_at_ms = NULL, error = NULL, \
                 timings = $3, pages = $4, chunks = $5, points = $6, artifacts = $7, \
                 profile_version = $8, pii_counts = $9, finished_at_ms = ",
                $now,
                ", updated_at_ms = ",
                $now,
                " WHERE job_id = $1 AND state = 'running' AND worker_id = $2"
            ),
            fail: concat!(
                "UPDATE jobs SET \
                 state = CASE WHEN $4 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                 worker_id = CASE WHEN $4 OR attempts >= max_attempts THEN worker_id END, \
                 finished_at_ms = CASE WHEN $4 OR attempts >= max_attempts THEN ",
                $now,
                " END, run_after_ms = CASE WHEN $4 OR attempts >= max_attempts THEN NULL ELSE ",
                $now,
                " + $5 END, lease_expires_at_ms = NULL, error = $3, updated_at_ms = ",
                $now,
                " WHERE job_id = $1 AND state = 'running' AND worker_id = $2 RETURNING state"
            ),
            revive: concat!(
                "UPDATE jobs SET state = 'queued', attempts = 0, worker_id = NULL, \
                 lease_expires_at_ms = NULL, run_after_ms = NULL, finished_at_ms = NULL, \
                 error = NULL, updated_at_ms = ",
                $now,
                " WHERE job_id = $1 AND tenant = $2 AND state = 'dead'"
            ),
            defer: concat!(
                "UPDATE jobs SET state = 'queued', \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 worker_id = NULL, lease_expires_at_ms = NULL, run_after_ms = ",
                $now,
                " + $3, updated_at_ms = ",
                $now,
                " WHERE job_id = $1 AND state = 'running' AND worker_id = $2"
            ),
            get: concat!("SELECT ", columns!(), " FROM jobs WHERE job_id = $1"),
            get_for_tenant: concat!(
                "SELECT ",
                columns!(),
                " FROM jobs WHERE job_id = $1 AND tenant = $2"
            ),
            list: concat!(
                "SELECT ",
                columns!(),
                " FROM jobs WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR tenant = $2) \
                 AND ($3 IS NULL OR batch_id = $3) AND ($4 IS NULL OR seq > $4) \
                 ORDER BY seq LIMIT $5"
            ),
            counts: "SELECT state, COUNT(*) FROM jobs WHERE ($1 IS NULL OR tenant = $1) \
                     GROUP BY state",
            batch_counts: "SELECT state, COUNT(*), MIN(created_at_ms) FROM jobs \
                           WHERE tenant = $1 AND batch_id = $2 GROUP BY state",
            reap_expired: concat!(
                "UPDATE jobs SET state = 'dead', lease_expires_at_ms = NULL, \
                 error = 'attempt limit reached: the lease of the last attempt expired without \
                 a verdict (the worker crashed or hung)', finished_at_ms = ",
                $now,
                ", updated_at_ms = ",
                $now,
                " WHERE job_id IN (SELECT job_id FROM jobs WHERE ",
                exhausted!($now),
                " ",
                $skip,
                ") AND ",
                exhausted!($now),
                " RETURNING job_id"
            ),
            claim: concat!(
                "UPDATE jobs SET ",
                take!($now, "$1", "$2"),
                " WHERE job_id IN (SELECT job_id FROM jobs WHERE ",
                claimable!($now),
                " AND ",
                due!($now),
                " ORDER BY seq LIMIT $3 ",
                $skip,
                ") AND ",
                claimable!($now),
                " RETURNING ",
                columns!()
            ),
            // One statement: inserted when free; when the row exists, taken over only if its
            // lease ran out or this job holds it (ON CONFLICT's WHERE is checked on the locked,
            // latest row, so two takers cannot both win).
            lock_document: concat!(
                "INSERT INTO document_locks AS l \
                 (doc_id, job_id, worker_id, lease_expires_at_ms, locked_at_ms) VALUES ($1, $2, $3, ",
                $now,
                " + $4, ",
                $now,
                ") ON CONFLICT (doc_id) DO UPDATE SET job_id = excluded.job_id, \
                 worker_id = excluded.worker_id, \
                 lease_expires_at_ms = excluded.lease_expires_at_ms, \
                 locked_at_ms = excluded.locked_at_ms \
                 WHERE l.job_id = excluded.job_id OR l.lease_expires_at_ms <= ",
                $now,
                " RETURNING doc_id"
            ),
            // Only a live lease of another job: anything else lets the next take succeed.
            lock_holder: concat!(
                "SELECT job_id, worker_id, lease_expires_at_ms FROM document_locks \
                 WHERE doc_id = $1 AND job_id <> $2 AND lease_expires_at_ms > ",
                $now
            ),
            extend_document_lock: concat!(
                "UPDATE document_locks SET lease_expires_at_ms = ",
                $now,
                " + $4 WHERE doc_id = $1 AND job_id = $2 AND worker_id = $3"
            ),
            unlock_document: "DELETE FROM document_locks \
                              WHERE doc_id = $1 AND job_id = $2 AND worker_id = $3",
        }
    };
}

/// PostgreSQL: `statement_timestamp()` is one value per statement.
pub(crate) const POSTGRES: Queries = queries!(
    now: "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::BIGINT",
    skip_locked: "FOR UPDATE SKIP LOCKED"
);

/// SQLite: `'now'` is one value per statement step.
pub(crate) const SQLITE: Queries = queries!(
    now: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
    skip_locked: ""
);
