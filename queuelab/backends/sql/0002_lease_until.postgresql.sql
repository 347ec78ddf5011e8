-- QueueLab schema 2 (PostgreSQL): a claim no longer touches an indexed column.
--
-- In schema 1 a claim moved ready_at to the lease's end. ready_at is in both claim indexes,
-- so every claimed row got new entries in all four indexes: a claim of 100 rows wrote ~700
-- WAL records and took ~20 times as long as deleting them. Now:
--
--   ready_at     when the task became (or becomes) claimable: its enqueue time, or the due
--                time of its retry. A claim leaves it alone, so it is also its place in line.
--   lease_until  while claimed, when the lease ends (NULL when not claimed).
--
-- Claimable is ready_at <= now AND (lease_until IS NULL OR lease_until <= now): an expired
-- lease needs no reaper, and its task keeps its place, ahead of younger tasks. A claim only
-- sets lease_token, lease_until and attempts, none of them indexed, so it is a HOT update
-- (no index writes) when the page has room for a second version of the row. A batch claim
-- takes runs of neighbouring rows, so every row needs that room: fillfactor 50 (at 70,
-- most of a 100-row claim still went to other pages with four index inserts each).

ALTER TABLE queuelab_tasks ADD COLUMN lease_until double precision;

UPDATE queuelab_tasks SET lease_until = ready_at, ready_at = queued_at
WHERE lease_token IS NOT NULL;

ALTER TABLE queuelab_tasks DROP COLUMN queued_at;

ALTER TABLE queuelab_tasks SET (fillfactor = 50);
