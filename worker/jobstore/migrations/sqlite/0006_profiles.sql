-- Tenant profiles: every change is a new version (the old ones stay, so a job's recorded
-- version can always be read back). `document` is the validated profile as JSON.
CREATE TABLE tenant_profiles (
    tenant        TEXT NOT NULL REFERENCES tenants (name),
    version       BIGINT NOT NULL,
    document      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
);

-- A key's role: `member` (jobs, search) or `admin` (also the tenant's profile and keys).
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'member';

-- What a job ran with: its tenant's profile version, and the PII matches per type.
ALTER TABLE jobs ADD COLUMN profile_version BIGINT;
ALTER TABLE jobs ADD COLUMN pii_counts TEXT;
