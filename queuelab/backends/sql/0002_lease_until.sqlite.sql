-- QueueLab schema 2 (SQLite): a claim no longer touches an indexed column; see
-- 0002_lease_until.postgresql.sql. (SQLite rewrites a row in place; what this saves here
-- is the delete and re-insert of the row's entries in both claim indexes.)

ALTER TABLE queuelab_tasks ADD COLUMN lease_until REAL;

UPDATE queuelab_tasks SET lease_until = ready_at, ready_at = queued_at
WHERE lease_token IS NOT NULL;

ALTER TABLE queuelab_tasks DROP COLUMN queued_at;
