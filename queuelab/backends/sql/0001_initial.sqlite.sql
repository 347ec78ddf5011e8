-- QueueLab schema 1 (SQLite): the same tables as PostgreSQL's; see
-- 0001_initial.postgresql.sql for what each column means.
--
-- seq is the rowid: a nack moves a task to the back of the line by giving it a new one.

CREATE TABLE queuelab_tasks (
    seq         INTEGER PRIMARY KEY,
    queue       TEXT NOT NULL,
    id          TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    ready_at    REAL NOT NULL,
    queued_at   REAL NOT NULL,
    lease_token INTEGER,
    attempts    INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    task        TEXT NOT NULL,
    UNIQUE (queue, id)
);

CREATE INDEX queuelab_tasks_fifo ON queuelab_tasks (queue, ready_at, seq);

CREATE INDEX queuelab_tasks_priority ON queuelab_tasks (queue, priority DESC, ready_at, seq);

CREATE TABLE queuelab_dead_letters (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT NOT NULL,
    id               TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    created_at       REAL NOT NULL,
    attempts         INTEGER NOT NULL,
    error_kind       TEXT NOT NULL,
    error            TEXT NOT NULL,
    dead_lettered_at REAL NOT NULL,
    stored_at        REAL NOT NULL,
    payload          TEXT NOT NULL,
    task             TEXT NOT NULL,
    UNIQUE (queue, id)
);

CREATE INDEX queuelab_dead_letters_time ON queuelab_dead_letters (queue, dead_lettered_at, seq);

CREATE INDEX queuelab_dead_letters_kind ON queuelab_dead_letters (queue, error_kind);
