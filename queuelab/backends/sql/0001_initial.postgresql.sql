-- QueueLab schema 1 (PostgreSQL): the tasks of every queue in one table, keyed by a queue
-- column, and their dead letters in another.
--
-- Times are wall-clock seconds (the client's time.time()) as double precision.
-- ready_at is when a task may next be claimed: its enqueue time, the due time of its retry,
-- or, while it is leased, the end of the lease. Claimable is then exactly ready_at <= now,
-- one range of the claim index: a running lease needs no separate filter, and an expired
-- one needs no reaper. lease_token marks the current holder; queued_at keeps when the task
-- last became claimable (its place in line) so a batch claim can hand tasks out in order.

CREATE SEQUENCE queuelab_task_seq;

CREATE TABLE queuelab_tasks (
    seq         bigint PRIMARY KEY DEFAULT nextval('queuelab_task_seq'),
    queue       text NOT NULL,
    id          text NOT NULL,
    priority    integer NOT NULL,
    ready_at    double precision NOT NULL,
    queued_at   double precision NOT NULL,
    lease_token bigint,
    attempts    integer NOT NULL,
    enqueued_at double precision NOT NULL,
    task        text NOT NULL,
    UNIQUE (queue, id)
);

ALTER SEQUENCE queuelab_task_seq OWNED BY queuelab_tasks.seq;

CREATE INDEX queuelab_tasks_fifo ON queuelab_tasks (queue, ready_at, seq);

CREATE INDEX queuelab_tasks_priority ON queuelab_tasks (queue, priority DESC, ready_at, seq);

-- dead_lettered_at and created_at are scenario seconds (the engine's), as the pane shows
-- them; stored_at is the wall-clock second the task was moved here. payload is
-- json.dumps(task.payload), the text the pane's filter searches.
CREATE TABLE queuelab_dead_letters (
    seq              bigserial PRIMARY KEY,
    queue            text NOT NULL,
    id               text NOT NULL,
    priority         integer NOT NULL,
    created_at       double precision NOT NULL,
    attempts         integer NOT NULL,
    error_kind       text NOT NULL,
    error            text NOT NULL,
    dead_lettered_at double precision NOT NULL,
    stored_at        double precision NOT NULL,
    payload          text NOT NULL,
    task             text NOT NULL,
    UNIQUE (queue, id)
);

CREATE INDEX queuelab_dead_letters_time ON queuelab_dead_letters (queue, dead_lettered_at, seq);

CREATE INDEX queuelab_dead_letters_kind ON queuelab_dead_letters (queue, error_kind);
