-- Retry delay of the job-table queue: a failed attempt re-queued by `fail` is not claimed by
-- `lease_next` before this time (unix ms, database clock). NULL: claimable at once.
ALTER TABLE jobs ADD COLUMN run_after_ms BIGINT;
