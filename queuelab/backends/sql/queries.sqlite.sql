-- The statements of the SQLite backend, by name (see sqlfiles.py). They mirror
-- queries.postgresql.sql; where SQLite lacks a feature the difference is noted. Lists
-- travel as one JSON array parameter (json_each), so a statement's text never depends on
-- how many items it carries. Multi-statement operations run inside BEGIN IMMEDIATE.
--
-- ?1 is the queue name, except in the statements a receipt (seq, token) keys. Times are
-- the client's wall-clock seconds.

-- name: enqueue
-- ?4: [[id, priority, attempts, task JSON], ...]; rowids follow the array's order.
INSERT INTO queuelab_tasks (queue, id, priority, ready_at, attempts, enqueued_at, task)
SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2,
       json_extract(value, '$[2]'), ?3, json_extract(value, '$[3]')
FROM json_each(?4)
ORDER BY key;

-- name: claim
-- One statement, so the write lock is taken at its start (a deferred transaction's
-- read-then-write upgrade is what fails with SQLITE_BUSY). No indexed column changes.
UPDATE queuelab_tasks
SET lease_token = ?4, lease_until = ?5, attempts = attempts + 1
WHERE seq IN (
    SELECT seq FROM queuelab_tasks
    WHERE queue = ?1 AND ready_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)
    ORDER BY {order}
    LIMIT ?3
)
RETURNING seq, priority, ready_at, attempts, task;

-- name: ack
-- ?1: [[seq, token], ...]
DELETE FROM queuelab_tasks
WHERE (seq, lease_token) IN (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)
)
  AND lease_until > ?2
RETURNING seq;

-- name: extend
UPDATE queuelab_tasks SET lease_until = ?4
WHERE seq = ?1 AND lease_token = ?2 AND lease_until > ?3
RETURNING seq;

-- name: nack
-- A new rowid puts the task at the back of the line of tasks ready at the same moment.
UPDATE queuelab_tasks
SET seq = (SELECT max(seq) FROM queuelab_tasks) + 1, ready_at = ?5, lease_token = NULL,
    lease_until = NULL, task = ?6
WHERE seq = ?2 AND lease_token = ?3 AND lease_until > ?4
RETURNING seq;

-- name: release
UPDATE queuelab_tasks
SET lease_token = NULL, lease_until = NULL, attempts = attempts - 1
WHERE seq IN (SELECT value FROM json_each(?1)) AND lease_token = ?2;

-- name: id_of
-- The id of a row this claim holds (its body did not decode, so the body cannot say).
SELECT id FROM queuelab_tasks WHERE seq = ?1 AND lease_token = ?2;

-- name: dead_letter_take
-- With dead_letter_put, inside one BEGIN IMMEDIATE: SQLite has no data-modifying CTEs.
DELETE FROM queuelab_tasks
WHERE seq = ?2 AND lease_token = ?3 AND lease_until > ?4
RETURNING id, priority, attempts;

-- name: dead_letter_put
INSERT INTO queuelab_dead_letters (queue, id, priority, created_at, attempts, error_kind,
                                   error, dead_lettered_at, stored_at, payload, task)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11);

-- name: reprocess_take
-- With enqueue, inside one BEGIN IMMEDIATE. ?2: [id, ...]
DELETE FROM queuelab_dead_letters
WHERE queue = ?1 AND id IN (SELECT value FROM json_each(?2))
  AND NOT EXISTS (
      SELECT 1 FROM queuelab_tasks AS t WHERE t.queue = ?1 AND t.id = queuelab_dead_letters.id
  )
RETURNING id, priority, attempts, task;

-- name: discard
DELETE FROM queuelab_dead_letters
WHERE queue = ?1 AND id IN (SELECT value FROM json_each(?2))
RETURNING 1;

-- name: purge_tasks
DELETE FROM queuelab_tasks WHERE queue = ?1;

-- name: purge_dead_letters
DELETE FROM queuelab_dead_letters WHERE queue = ?1;

-- name: counts
SELECT count(*) FILTER (WHERE ready_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)),
       count(*) FILTER (WHERE ready_at > ?2),
       count(*) FILTER (WHERE lease_until > ?2),
       (SELECT count(*) FROM queuelab_dead_letters WHERE queue = ?1)
FROM queuelab_tasks
WHERE queue = ?1;

-- name: peek
SELECT attempts, task FROM queuelab_tasks
WHERE queue = ?1 AND ready_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)
ORDER BY {order}
LIMIT ?3;

-- name: next_due
SELECT min(ready_at) FROM queuelab_tasks WHERE queue = ?1 AND ready_at > ?2;

-- name: dead_letter_page
-- ?2: the error kind or NULL; ?3: the filter text, lower-cased, or ''. queuelab_lower is
-- Python's str.lower, registered on each connection: SQLite's lower() folds ASCII only.
SELECT error_kind, error, dead_lettered_at, attempts, task FROM queuelab_dead_letters
WHERE queue = ?1 AND {filter}
ORDER BY {order}
LIMIT ?5 OFFSET ?4;

-- name: dead_letter_totals
SELECT count(*) FILTER (WHERE {filter}), count(*) FROM queuelab_dead_letters WHERE queue = ?1;

-- name: dead_letter_kinds
SELECT DISTINCT error_kind FROM queuelab_dead_letters WHERE queue = ?1 ORDER BY 1;

-- name: get_dead_letter
SELECT error_kind, error, dead_lettered_at, attempts, task FROM queuelab_dead_letters
WHERE queue = ?1 AND id = ?2;

-- name: has_version_table
SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'queuelab_schema_version';

-- name: version
SELECT coalesce(max(version), 0) FROM queuelab_schema_version;

-- name: version_table
CREATE TABLE IF NOT EXISTS queuelab_schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at REAL NOT NULL
);

-- name: record_version
INSERT INTO queuelab_schema_version (version, name, applied_at) VALUES (?1, ?2, ?3);
