-- The audit trail: one row per state-changing API call, search and CLI key/tenant change.
-- Append-only: the triggers below refuse every UPDATE, DELETE and TRUNCATE, so not even raw SQL
-- through the application's connection can rewrite history (dropping the table, or a superuser
-- disabling triggers, is a matter of database privileges).
CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
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

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Statement-level: refused even when no row matches.
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
