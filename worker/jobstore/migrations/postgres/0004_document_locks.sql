-- One job per document at a time across the fleet: a document's row while a job works on it.
-- The holder is the job (and the worker running it); the lease is renewed with the job's and
-- a crashed holder's row is taken over once it has run out. Released rows are deleted.
-- doc_id is the pipeline's document id (SHA-256 of tenant and source), the key of its points.
CREATE TABLE document_locks (
    doc_id              TEXT PRIMARY KEY,
    job_id              UUID NOT NULL,
    worker_id           TEXT NOT NULL,
    lease_expires_at_ms BIGINT NOT NULL,
    locked_at_ms        BIGINT NOT NULL
);
