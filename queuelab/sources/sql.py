"""Queues in PostgreSQL or SQLite, read inside read-only transactions.

Layouts (detected from the tables there, `?layout=` to choose):

* `queuelab`: QueueLab's `queuelab_tasks` and `queuelab_dead_letters` (schema 2 of
  `backends/sql/`): ready, delayed (a retry not due), in flight (a lease running), dead.
* `procrastinate` (PostgreSQL): `procrastinate_jobs` counted by status for `queue_name`:
  todo (ready, or delayed while `scheduled_at` is ahead), doing (in flight), failed;
  succeeded rows are a completions counter and all rows an arrivals counter.
* `query`: any SQL the user gives (`?sql=` or `queuelab monitor --sql`) returning one
  number, as KEDA's PostgreSQL trigger does: the number is the ready depth.

Every read is one transaction that cannot write: PostgreSQL `BEGIN READ ONLY` with a
statement timeout (so a user's query can neither change nor hold the database); SQLite
opened with `mode=ro` (a missing file is refused, never created) and `PRAGMA query_only`.
`schema=` (PostgreSQL) puts a schema first on the search path for that transaction.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from queuelab.core.monitoring import RateDerivation, Sample, derivation
from queuelab.core.urls import redact_url
from queuelab.sources.base import SourceError, option

OPTIONS = ("queue", "layout", "sql", "schema")
LAYOUTS = ("queuelab", "procrastinate", "query")
TIMEOUT = 5.0  # seconds: connect, and the statement timeout of every read
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_QUEUELAB = """
SELECT (SELECT count(*) FROM queuelab_tasks WHERE queue = {q} AND ready_at <= {now}
          AND (lease_until IS NULL OR lease_until <= {now})),
       (SELECT count(*) FROM queuelab_tasks WHERE queue = {q} AND ready_at > {now}
          AND (lease_until IS NULL OR lease_until <= {now})),
       (SELECT count(*) FROM queuelab_tasks WHERE queue = {q} AND lease_until > {now}),
       (SELECT count(*) FROM queuelab_dead_letters WHERE queue = {q})
"""
_PROCRASTINATE = """
SELECT count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())),
       count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()),
       count(*) FILTER (WHERE status = 'doing'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'succeeded'),
       count(*)
FROM procrastinate_jobs WHERE queue_name = $1
"""


class SqlSource:
    """A queue in a PostgreSQL or SQLite database."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = redact_url(url)
        self.queue = option(options, "queue", OPTIONS, self.url)
        scheme = url.partition("://")[0].lower()
        self.sqlite = scheme.startswith("sqlite")
        layout = options.get("layout", "")
        if layout and layout not in LAYOUTS:
            raise SourceError(f"{self.url}: layout {layout!r} is not one of "
                              f"{', '.join(LAYOUTS)}", lasting=True)
        if layout == "procrastinate" and self.sqlite:
            raise SourceError(f"{self.url}: procrastinate keeps its jobs in PostgreSQL only",
                              lasting=True)
        self.sql = options.get("sql", "").strip()
        if self.sql and not layout:
            layout = "query"
        if layout == "query" and not self.sql:
            raise SourceError(f"{self.url}: layout=query needs the query: ?sql=SELECT …",
                              lasting=True)
        self.layout = layout or None
        self.schema = options.get("schema", "")
        if self.schema and not _IDENT.match(self.schema):
            raise SourceError(f"{self.url}: schema {self.schema!r} is not a plain name",
                              lasting=True)
        base = url.partition("?")[0]
        if self.sqlite:
            path = unquote(urlsplit(base).path)
            self._path = path[1:] if path.startswith("/") else path
            if not self._path:
                raise SourceError(f"{self.url}: give the database file: sqlite:///path.db",
                                  lasting=True)
        else:
            self._dsn = "postgresql://" + base.partition("://")[2]
        self._conn: Any = None
        self._lock = asyncio.Lock()

    @property
    def method(self) -> str:
        where = "SQLite" if self.sqlite else "PostgreSQL"
        what = {"queuelab": "QueueLab tables", "procrastinate": "procrastinate_jobs",
                "query": "the given query"}.get(self.layout or "", "layout not detected yet")
        return f"{where}, {what}, read-only transactions"

    @property
    def derivation(self) -> RateDerivation:
        counters = self.layout == "procrastinate"
        return derivation(arrival_reported=False, arrival_counter=counters,
                          completion_reported=False, completion_counter=counters)

    async def open(self) -> None:
        """Connections are made at the first read, and again after one is lost."""

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.sqlite:
            conn.close()
        else:
            try:
                await conn.close(timeout=TIMEOUT)
            except Exception:
                conn.terminate()

    async def read(self) -> Sample:
        async with self._lock:
            if self.sqlite:
                return await asyncio.to_thread(self._read_sqlite)
            return await self._read_postgres()

    # ------------------------------------------------------------------ PostgreSQL

    async def _read_postgres(self) -> Sample:
        import asyncpg

        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=TIMEOUT)
            conn = self._conn
            async with conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT * 1000)}")
                if self.schema:
                    await conn.execute(f'SET LOCAL search_path = "{self.schema}", public')
                if self.layout is None:
                    self.layout = await self._detect_postgres(conn)
                return await self._sample_postgres(conn)
        except SourceError:
            raise
        except (asyncpg.InvalidPasswordError,
                asyncpg.InvalidAuthorizationSpecificationError) as exc:
            await self.close()
            raise SourceError(f"{self.url}: PostgreSQL refused the login "
                              f"({redact_url(str(exc))})") from None
        except asyncpg.InvalidCatalogNameError as exc:
            await self.close()
            raise SourceError(f"{self.url}: {exc}") from None
        except asyncpg.PostgresError as exc:
            if self.layout == "query":
                raise SourceError(f"{self.url}: the query failed: {redact_url(str(exc))}",
                                  lasting=isinstance(exc, asyncpg.ReadOnlySQLTransactionError)
                                  ) from None
            raise SourceError(f"{self.url}: {redact_url(str(exc))}") from None
        except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise SourceError(f"{self.url}: PostgreSQL is unreachable "
                              f"({type(exc).__name__}: {redact_url(str(exc))})") from None

    async def _detect_postgres(self, conn: Any) -> str:
        ours, theirs = await conn.fetchrow(
            "SELECT to_regclass('queuelab_tasks') IS NOT NULL, "
            "to_regclass('procrastinate_jobs') IS NOT NULL")
        hits = []
        if ours and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM queuelab_tasks WHERE queue = $1) OR EXISTS "
                "(SELECT 1 FROM queuelab_dead_letters WHERE queue = $1)", self.queue):
            hits.append("queuelab")
        if theirs and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queue_name = $1)",
                self.queue):
            hits.append("procrastinate")
        tables = [n for n, t in (("queuelab", ours), ("procrastinate", theirs)) if t]
        return _decide(self.url, self.queue, hits, tables)

    async def _sample_postgres(self, conn: Any) -> Sample:
        t = time.time()
        if self.layout == "queuelab":
            row = await conn.fetchrow(_QUEUELAB.format(q="$1", now="$2"), self.queue, t)
            ready, delayed, leased, dead = row
            return Sample(t=t, ready=ready, delayed=delayed, in_flight=leased, failed=dead)
        if self.layout == "procrastinate":
            ready, delayed, doing, failed, done, total = await conn.fetchrow(
                _PROCRASTINATE, self.queue)
            return Sample(t=t, ready=ready, delayed=delayed, in_flight=doing, failed=failed,
                          completed=float(done), arrived=float(total))
        return Sample(t=t, ready=_number(self.url, await conn.fetchrow(self.sql)))

    # ------------------------------------------------------------------ SQLite

    def _read_sqlite(self) -> Sample:
        try:
            if self._conn is None:
                uri = f"file:{self._path}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=TIMEOUT,
                                       check_same_thread=False)
                conn.execute("PRAGMA query_only = ON")
                self._conn = conn
            conn = self._conn
            conn.execute("BEGIN")
            try:
                if self.layout is None:
                    self.layout = self._detect_sqlite(conn)
                t = time.time()
                if self.layout == "queuelab":
                    row = conn.execute(_QUEUELAB.format(q="?1", now="?2"),
                                       (self.queue, t)).fetchone()
                    ready, delayed, leased, dead = row
                    return Sample(t=t, ready=ready, delayed=delayed, in_flight=leased,
                                  failed=dead)
                return Sample(t=t, ready=_number(self.url, conn.execute(self.sql).fetchone()))
            finally:
                conn.rollback()
        except SourceError:
            raise
        except sqlite3.Error as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            lasting = self.layout == "query" and "readonly" in str(exc).replace("-", "")
            what = "the query failed: " if self.layout == "query" else ""
            raise SourceError(f"{self.url}: {what}{exc}", lasting=lasting) from None

    def _detect_sqlite(self, conn: sqlite3.Connection) -> str:
        ours = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'queuelab_tasks'").fetchone() is not None
        hits = []
        if ours and conn.execute(
                "SELECT EXISTS (SELECT 1 FROM queuelab_tasks WHERE queue = ?1) OR EXISTS "
                "(SELECT 1 FROM queuelab_dead_letters WHERE queue = ?1)",
                (self.queue,)).fetchone()[0]:
            hits.append("queuelab")
        return _decide(self.url, self.queue, hits, ["queuelab"] if ours else [])


def _decide(url: str, queue: str, hits: list[str], tables: list[str]) -> str:
    """The layout from which tables hold the queue (or exist at all)."""
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise SourceError(f"{url}: queue {queue!r} is in both QueueLab's and procrastinate's "
                          "tables: say which with ?layout=queuelab or ?layout=procrastinate",
                          lasting=True)
    if len(tables) == 1:
        return tables[0]  # the only layout here; the queue has no rows yet
    raise SourceError(f"{url}: no queue {queue!r} in QueueLab's or procrastinate's tables "
                      "(yet); looking again at the next poll")


def _number(url: str, row: Any) -> int:
    """The one number a user's query returns (rounded down), or a lasting SourceError."""
    if row is None or len(row) < 1:
        raise SourceError(f"{url}: the query returned no row; it must return one number",
                          lasting=True)
    value = row[0]
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        raise SourceError(f"{url}: the query returned {str(value)[:40]!r}, not a number",
                          lasting=True) from None
