-- The audit trail: one row per state-changing API call, search and CLI key/tenant change.
-- Append-only: the triggers below refuse every UPDATE and DELETE (a table with triggers is never
-- emptied by SQLite's truncate optimisation either), so not even raw SQL can rewrite history.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      INTEGER NOT NULL,
    tenant     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    request_id TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    status     INTEGER,
    detail     TEXT
);

CREATE INDEX audit_log_tenant_seq ON audit_log (tenant, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
