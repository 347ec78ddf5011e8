"""What a `sqlite://` or `postgresql://` queue URL asks for, checked before anything connects.

The URL names a database and, in its query string, the queue inside it and how to use it:
`postgresql://host/db?queue=jobs&discipline=priority`. Many queues share one database (a
`queue` column, not a table per queue): one schema to create and migrate whatever the
number of queues, fixed statement text with the name as a parameter (no identifiers built
from user input), and a new queue is just a new name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from queuelab.backends import BackendError, redact_url
from queuelab.core.urls import mask

DISCIPLINES = ("fifo", "priority")
OPTIONS = (
    "queue",
    "discipline",
    "clock",
    "pool_size",
    "poll_interval",
    "connect_timeout",
    "reconnect_timeout",
)
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
DATA_FILE = "queuelab.sqlite3"


@dataclass(frozen=True, slots=True)
class SqlConfig:
    """A parsed queue URL: which database, which queue, and the knobs of the connection."""

    dialect: str  # "postgresql" or "sqlite"
    database: URL  # SQLAlchemy's URL of the database, async driver set, options removed
    shown: str  # the URL as given, password masked: for messages
    queue: str
    discipline: str
    clock: Callable[[], float]
    pool_size: int  # connections held for statements (PostgreSQL)
    poll_interval: float  # s between looks for work when no notification comes
    connect_timeout: float  # s before an unanswered connection attempt fails
    reconnect_timeout: float  # s an operation keeps reconnecting after a lost connection

    @property
    def key(self) -> str:
        """Identifies the database within this process (password included: never shown)."""
        return self.database.render_as_string(hide_password=False)


def parse(url: str, options: dict[str, Any], clock: Callable[[], float]) -> SqlConfig:
    """Check the URL and options; every refusal names what was wrong and what is allowed."""
    shown = redact_url(url)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise BackendError(
            f"{shown}: unknown option(s) {', '.join(unknown)}; the SQL backend knows "
            f"{', '.join(OPTIONS)}"
        )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise BackendError(f"not a valid database URL: {shown} ({mask(str(exc), url)})") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise BackendError(f"{shown}: the SQL backend opens {', '.join(_DRIVERS)} URLs")
    dialect = driver.split("+")[0]
    database = parsed.set(drivername=driver, query={})
    if dialect == "sqlite":
        database = database.set(database=str(_sqlite_path(parsed.database, shown)))
    discipline = str(options.get("discipline", "fifo"))
    if discipline not in DISCIPLINES:
        raise BackendError(
            f"{shown}: discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
        )
    queue = str(options.get("queue", "default"))
    if not queue or len(queue) > 200 or not queue.isprintable():
        raise BackendError(f"{shown}: queue must be 1 to 200 printable characters")
    given = options.get("clock", clock)
    if not callable(given):
        raise BackendError(f"{shown}: clock must be a function returning wall-clock seconds")
    return SqlConfig(
        dialect=dialect,
        database=database,
        shown=shown,
        queue=queue,
        discipline=discipline,
        clock=given,
        pool_size=int(_number(options, "pool_size", 10, shown, 1, 1000)),
        poll_interval=_number(options, "poll_interval", 0.5, shown, 0.01, 60.0),
        connect_timeout=_number(options, "connect_timeout", 5.0, shown, 0.1, 600.0),
        reconnect_timeout=_number(options, "reconnect_timeout", 30.0, shown, 0.0, 3600.0),
    )


def default_sqlite_file() -> Path:
    """Where `sqlite:///` keeps its queue: the user's data directory, so it outlives the app."""
    import platformdirs

    return Path(platformdirs.user_data_dir("QueueLab", appauthor=False)) / DATA_FILE


def _sqlite_path(database: str | None, shown: str) -> Path:
    if not database:
        path = default_sqlite_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if database == ":memory:" or database.startswith("file:"):
        raise BackendError(
            f"{shown}: give the SQLite database a file (an in-memory database is not shared "
            "between connections); memory:// is the in-process queue"
        )
    return Path(database).expanduser().resolve()


def _number(
    options: dict[str, Any], name: str, default: float, shown: str, low: float, high: float
) -> float:
    raw = options.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not low <= value <= high:
        raise BackendError(
            f"{shown}: {name} must be a number from {low:g} to {high:g}, not {raw!r}"
        )
    return value


