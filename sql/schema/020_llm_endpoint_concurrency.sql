-- The concurrency the client settled on for a model server (requests in flight that it answered
-- without queueing them into timeouts), recorded beside its structured-output mode and used as
-- the starting limit of the next run (llm/concurrency.py).
ALTER TABLE llm_endpoints ADD COLUMN IF NOT EXISTS concurrency INTEGER;
