-- The statements of the PostgreSQL backend, by name (see sqlfiles.py). Every one is a
-- single statement, so none needs a transaction round trip of its own: PostgreSQL runs it
-- atomically, data-modifying CTEs included. {order} is the queue discipline's claim order,
-- {filter} the dead-letter pane's filter; both come from fixed text in the code.
--
-- $1 is the queue name, except in the statements a receipt (seq, token) keys. Times are
-- the client's wall-clock seconds.

-- name: enqueue
-- Tasks arrive as parallel arrays, one round trip for any number; NOTIFY wakes claimers
-- waiting in every process (it is delivered when this statement commits).
WITH added AS (
    INSERT INTO queuelab_tasks (queue, id, priority, ready_at, attempts, enqueued_at, task)
    SELECT $1, t.id, t.priority, $2, t.attempts, $3, t.task
    FROM unnest($4::text[], $5::integer[], $6::integer[], $7::text[]) WITH ORDINALITY
        AS t (id, priority, attempts, task, n)
    ORDER BY t.n
    RETURNING 1
)
SELECT pg_notify('queuelab', $1 || ' ' || count(*)) FROM added;

-- name: claim
-- FOR UPDATE SKIP LOCKED: concurrent claimers take different rows without waiting. The
-- task is leased, not deleted (a DELETE ... RETURNING would lose a task whose worker
-- dies), so an expired lease hands it to the next claimer. Only unindexed columns
-- change: a HOT update, no index writes (schema 2).
WITH picked AS (
    SELECT seq FROM queuelab_tasks
    WHERE queue = $1 AND ready_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
    ORDER BY {order}
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE queuelab_tasks AS t
SET lease_token = $4, lease_until = $5, attempts = t.attempts + 1
FROM picked
WHERE t.seq = picked.seq
RETURNING t.seq, t.priority, t.ready_at, t.attempts, t.task;

-- name: ack
-- Many acks in one statement; a row is removed only while its receipt's lease holds. $1
-- is the receipts' seqs (no repeats), $2 a JSON object from each seq to its token. Rows
-- are found by primary key: a receipt names its row in the whole database, and a queue
-- condition would only invite a scan of the queue.
-- No join, on purpose. Written as a join with unnest($1, $2), the statement was planned
-- from statistics taken while no task was leased ("lease_until > now: 1 row"), so the
-- planner scanned the whole primary key and compared every leased row with every receipt:
-- 1.6 million comparisons and 350 ms for a 1,000-row ack, once or twice a run at 16
-- workers. With one table and an index condition there is no join order to get wrong,
-- and each row finds its token by a binary search of the object's keys.
DELETE FROM queuelab_tasks AS t
WHERE t.seq = ANY($1::bigint[])
  AND t.lease_token = ($2::jsonb ->> t.seq::text)::bigint
  AND t.lease_until > $3
RETURNING t.seq;

-- name: present
-- After a lost connection: which of these rows still exist (an ack whose reply was lost
-- has removed its row).
SELECT seq FROM queuelab_tasks WHERE seq = ANY($1::bigint[]);

-- name: extend
UPDATE queuelab_tasks SET lease_until = $4
WHERE seq = $1 AND lease_token = $2 AND lease_until > $3
RETURNING seq;

-- name: nack
-- A new seq puts the task at the back of the line of tasks ready at the same moment.
WITH back AS (
    UPDATE queuelab_tasks
    SET seq = nextval('queuelab_task_seq'), ready_at = $5, lease_token = NULL,
        lease_until = NULL, task = $6
    WHERE seq = $2 AND lease_token = $3 AND lease_until > $4
    RETURNING seq
)
SELECT seq, pg_notify('queuelab', $1 || ' 1') FROM back;

-- name: id_of
-- The id of a row this claim holds (its body did not decode, so the body cannot say).
SELECT id FROM queuelab_tasks WHERE seq = $1 AND lease_token = $2;

-- name: seq_of
SELECT seq FROM queuelab_tasks WHERE queue = $1 AND id = $2;

-- name: release
-- Claimed rows nobody received (their claimer was cancelled): as if never claimed.
UPDATE queuelab_tasks AS t
SET lease_token = NULL, lease_until = NULL, attempts = t.attempts - 1
WHERE t.seq = ANY($1::bigint[]) AND t.lease_token = $2;

-- name: dead_letter
WITH gone AS (
    DELETE FROM queuelab_tasks
    WHERE seq = $2 AND lease_token = $3 AND lease_until > $4
    RETURNING id, priority, attempts
)
INSERT INTO queuelab_dead_letters (queue, id, priority, created_at, attempts, error_kind,
                                   error, dead_lettered_at, stored_at, payload, task)
SELECT $1, id, priority, $5, attempts, $6, $7, $8, $4, $9, $10 FROM gone
RETURNING seq;

-- name: is_dead
SELECT 1 FROM queuelab_dead_letters WHERE queue = $1 AND id = $2;

-- name: reprocess
-- Each task is either still a dead letter or back in the queue: the move is one statement.
-- A dead letter whose id is in use in the queue again stays where it is. The moved tasks
-- join the queue in the order given: each id's position comes from unnest WITH ORDINALITY
-- (array_position searched the whole array for every row: 100,000 ids took minutes).
-- $2 holds no repeats (the caller removes them).
WITH wanted AS (
    SELECT w.id, w.pos FROM unnest($2::text[]) WITH ORDINALITY AS w(id, pos)
), moved AS (
    DELETE FROM queuelab_dead_letters AS d
    WHERE d.queue = $1 AND d.id = ANY($2::text[])
      AND NOT EXISTS (SELECT 1 FROM queuelab_tasks AS t WHERE t.queue = $1 AND t.id = d.id)
    RETURNING d.id, d.priority, d.attempts, d.task
), back AS (
    INSERT INTO queuelab_tasks (queue, id, priority, ready_at, attempts, enqueued_at, task)
    SELECT $1, m.id, m.priority, $3, CASE WHEN $4 THEN 0 ELSE m.attempts END, $3, m.task
    FROM moved AS m JOIN wanted AS w ON w.id = m.id
    ORDER BY w.pos
    RETURNING 1
)
SELECT n, CASE WHEN n > 0 THEN pg_notify('queuelab', $1 || ' ' || n) END
FROM (SELECT count(*) AS n FROM back) AS c;

-- name: discard
WITH gone AS (
    DELETE FROM queuelab_dead_letters WHERE queue = $1 AND id = ANY($2::text[]) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: purge
WITH tasks AS (DELETE FROM queuelab_tasks WHERE queue = $1)
DELETE FROM queuelab_dead_letters WHERE queue = $1;

-- name: counts
SELECT count(*) FILTER (WHERE ready_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)),
       count(*) FILTER (WHERE ready_at > $2),
       count(*) FILTER (WHERE lease_until > $2),
       (SELECT count(*) FROM queuelab_dead_letters WHERE queue = $1)
FROM queuelab_tasks
WHERE queue = $1;

-- name: peek
SELECT attempts, task FROM queuelab_tasks
WHERE queue = $1 AND ready_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
ORDER BY {order}
LIMIT $3;

-- name: next_due
-- When a claimer with nothing to do should look again: the next retry to fall due (from
-- the claim index). A lease running out is left to polling: finding the earliest would
-- read every leased row, and it only happens when a worker died.
SELECT min(ready_at) FROM queuelab_tasks WHERE queue = $1 AND ready_at > $2;

-- name: dead_letter_page
-- $2: the error kind or NULL; $3: the filter text, lower-cased, or ''.
SELECT error_kind, error, dead_lettered_at, attempts, task FROM queuelab_dead_letters
WHERE queue = $1 AND {filter}
ORDER BY {order}
OFFSET $4 LIMIT $5;

-- name: dead_letter_totals
SELECT count(*) FILTER (WHERE {filter}), count(*) FROM queuelab_dead_letters WHERE queue = $1;

-- name: dead_letter_kinds
SELECT DISTINCT error_kind COLLATE "C" FROM queuelab_dead_letters WHERE queue = $1 ORDER BY 1;

-- name: get_dead_letter
SELECT error_kind, error, dead_lettered_at, attempts, task FROM queuelab_dead_letters
WHERE queue = $1 AND id = $2;

-- name: has_version_table
SELECT to_regclass('queuelab_schema_version') IS NOT NULL;

-- name: version
SELECT coalesce(max(version), 0) FROM queuelab_schema_version;

-- name: lock_schema
-- One migrating process at a time; the lock ends with the migration's transaction.
SELECT pg_advisory_xact_lock(7215646921574466);

-- name: version_table
CREATE TABLE IF NOT EXISTS queuelab_schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at double precision NOT NULL
);

-- name: record_version
INSERT INTO queuelab_schema_version (version, name, applied_at) VALUES ($1, $2, $3);
