-- One job per document at a time across the fleet: see migrations/postgres/0004_document_locks.sql.
CREATE TABLE document_locks (
    doc_id              TEXT PRIMARY KEY,
    job_id              BLOB NOT NULL,
    worker_id           TEXT NOT NULL,
    lease_expires_at_ms INTEGER NOT NULL,
    locked_at_ms        INTEGER NOT NULL
);
