-- The job table: one row per job, the source of truth for its state, and the queue of the
-- "local" (job-table) queue. Times are unix milliseconds from the database clock.
CREATE TABLE jobs (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    job_id              UUID PRIMARY KEY,
    tenant              TEXT NOT NULL,
    source              TEXT NOT NULL,
    options             JSONB NOT NULL,
    batch_id            UUID,
    submitted_at_ms     BIGINT NOT NULL,
    state               TEXT NOT NULL
                        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id           TEXT,
    lease_expires_at_ms BIGINT,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    started_at_ms       BIGINT,
    finished_at_ms      BIGINT,
    timings             JSONB,
    pages               BIGINT,
    chunks              BIGINT,
    points              BIGINT,
    artifacts           JSONB,
    error               TEXT
);

CREATE INDEX jobs_state_seq ON jobs (state, seq);
CREATE INDEX jobs_tenant_seq ON jobs (tenant, seq);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
