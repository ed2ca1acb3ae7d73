-- The job table: the same columns and rules as migrations/postgres/0001_jobs.sql, in SQLite
-- types (UUIDs as 16-byte BLOBs, JSON as TEXT). Times are unix milliseconds.
CREATE TABLE jobs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id              BLOB NOT NULL UNIQUE,
    tenant              TEXT NOT NULL,
    source              TEXT NOT NULL,
    options             TEXT NOT NULL,
    batch_id            BLOB,
    submitted_at_ms     INTEGER NOT NULL,
    state               TEXT NOT NULL
                        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id           TEXT,
    lease_expires_at_ms INTEGER,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    started_at_ms       INTEGER,
    finished_at_ms      INTEGER,
    timings             TEXT,
    pages               INTEGER,
    chunks              INTEGER,
    points              INTEGER,
    artifacts           TEXT,
    error               TEXT
);

CREATE INDEX jobs_state_seq ON jobs (state, seq);
CREATE INDEX jobs_tenant_seq ON jobs (tenant, seq);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
