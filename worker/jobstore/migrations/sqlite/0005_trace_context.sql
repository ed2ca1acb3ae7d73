-- W3C trace context of the request that submitted the job (`traceparent`, `tracestate`): the
-- job-table queue's deliveries carry it, and a redrive republishes it, so the worker's spans join
-- the submitter's trace.
ALTER TABLE jobs ADD COLUMN traceparent TEXT;
ALTER TABLE jobs ADD COLUMN tracestate TEXT;
