"""The SQL backend: `sqlite:///path` (the embedded durable default) and `postgresql://…`.

    open_queue("sqlite:///")                                  # file in the user's data dir
    open_queue("sqlite:///runs/lab.db?queue=jobs")
    open_queue("postgresql://user:pw@host/db?queue=jobs&discipline=priority")

Options (URL query or keywords): `queue` (name, default "default"), `discipline`
("fifo" or "priority"), `pool_size` (PostgreSQL connections held, default 10),
`poll_interval` (s between looks for work when no wake-up comes, default 0.5),
`connect_timeout` (s, default 5), `reconnect_timeout` (s an operation keeps retrying
after a lost connection, default 30), and `clock` (keyword only: wall-clock seconds, for
tests).

Design in one breath: one schema per database, created and migrated by QueueLab
(`migrate.py`, the numbered `.sql` files); all queues in one table with a queue column
(`config.py` says why); at-least-once leases where an expired lease needs no reaper
(`queue.py`); every hot operation a single statement (`queries.*.sql`), coalesced across
concurrent callers (`batch.py`) on held connections (`connections.py`); PostgreSQL wakes
waiting claimers with LISTEN/NOTIFY and polls as a fallback (`postgres.py`); SQLite runs
WAL with one writer connection per process (`sqlite.py`); lost connections are retried
(`store.py`).
"""

from __future__ import annotations

import time
from typing import Any

from queuelab.backends.sql.config import parse
from queuelab.backends.sql.queue import SqlQueue

__all__ = ["SqlQueue", "from_url", "open_queue"]


def from_url(url: str, **options: Any) -> SqlQueue:
    """The queue a `sqlite://` or `postgresql://` URL names (not yet connected)."""
    return SqlQueue(parse(url, options, time.time))


#: the same entry point under the name `queuelab.backends.open_queue` uses for itself
open_queue = from_url
