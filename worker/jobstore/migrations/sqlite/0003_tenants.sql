-- Tenants and their API keys. A key is `dfk_<key_id>_<secret>`; only a peppered SHA-256 of the
-- secret is stored, so a leaked table does not leak usable keys.
CREATE TABLE tenants (
    name          TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants (name),
    secret_sha256 TEXT NOT NULL,
    label         TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);

CREATE INDEX api_keys_tenant ON api_keys (tenant);
