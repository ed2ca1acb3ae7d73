-- Retry delay of the job-table queue: see migrations/postgres/0002_run_after.sql.
ALTER TABLE jobs ADD COLUMN run_after_ms INTEGER;
