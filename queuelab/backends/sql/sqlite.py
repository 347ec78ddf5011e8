"""SQLite through aiosqlite: the embedded durable default.

No "database is locked" under the app's own concurrency, by construction:

* one writer connection per database file and process (the `Store` is shared by every
  queue handle on the file), lent to one statement or transaction at a time, so the
  process's own writes queue in asyncio instead of colliding in SQLite;
* every claim, ack, nack and enqueue is ONE statement, which takes the write lock at its
  start; the few multi-statement operations (dead-letter, reprocess, purge) use BEGIN
  IMMEDIATE. A deferred BEGIN; SELECT; UPDATE fails with SQLITE_BUSY on the read-to-write
  upgrade, which busy_timeout does not cover;
* WAL, so the reader connection (counts, peek, dead-letter pages) never blocks the writer;
* busy_timeout (5 s) for other processes on the same file (a `queuelab worker`).

synchronous=NORMAL: in WAL mode a commit is then not fsynced; WAL is synced at checkpoints.
A crash of the app (or a SIGKILL) loses nothing; a power cut or OS crash may lose the last
transactions committed before it (the database stays consistent). In return single-row
statements run about twice as fast (docs/architecture.md). FULL would fsync every commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from queuelab.backends.base import BackendError
from queuelab.backends.sql.ops import Buried, NewTask, Ops, causes
from queuelab.core.dead_letter_query import SEARCHED

BUSY_TIMEOUT_MS = 5000
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
#: RETURNING and ALTER TABLE DROP COLUMN (schema 2) arrived in SQLite 3.35
MIN_SQLITE = (3, 35)


class SqliteOps(Ops):
    dialect = "sqlite"
    # one writer: a second statement in flight would only queue behind the first
    claim_flights = ack_flights = 1
    # core.dead_letter_query's filter: the searched columns carry the rule's field names
    dl_filter = "(?2 IS NULL OR error_kind = ?2) AND (?3 = '' OR {})".format(
        " OR ".join(f"instr(queuelab_lower({c}), ?3) > 0" for c in SEARCHED)
    )

    def engine(self, database: Any, pool: int, connect_timeout: float) -> AsyncEngine:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise BackendError(
                f"the SQL backend needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        engine = create_async_engine(
            database, isolation_level="AUTOCOMMIT", pool_size=4, max_overflow=4
        )
        event.listen(engine.sync_engine, "connect", _configure)
        return engine

    async def probe(self, database: Any) -> None:
        """Open and close the file with the standard library, awaited in a thread.

        aiosqlite (0.22) answers a failed connect by queueing its worker thread's stop
        without awaiting it; the thread then reports to an event loop that may have closed
        ("Event loop is closed" in that thread). A file that cannot be opened (a missing
        folder, no permission) fails here instead, with the same sqlite3 error.
        """
        await asyncio.to_thread(_open_and_close, str(database.database))

    @contextlib.asynccontextmanager
    async def transaction(self, conn: Any) -> AsyncIterator[None]:
        await conn.execute_fetchall("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.execute_fetchall("ROLLBACK")
            raise
        await conn.execute_fetchall("COMMIT")

    async def fetch(self, conn: Any, sql: str, *args: Any) -> list[Sequence[Any]]:
        return list(await conn.execute_fetchall(sql, args))

    # --- errors ----------------------------------------------------------------------
    def transient(self, exc: BaseException) -> bool:
        return any(
            isinstance(e, sqlite3.OperationalError)
            and getattr(e, "sqlite_errorcode", 0) & 0xFF in _BUSY
            for e in causes(exc)
        )

    def duplicate(self, exc: BaseException) -> bool:
        return any(
            isinstance(e, sqlite3.IntegrityError) and "UNIQUE" in str(e) for e in causes(exc)
        )

    def database_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (sqlite3.Error, SQLAlchemyError, OSError))

    def describe(self, exc: BaseException) -> str:
        for e in causes(exc):
            if isinstance(e, (sqlite3.Error, OSError)):
                return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    # --- tasks -----------------------------------------------------------------------
    async def enqueue(
        self, conn: Any, queue: str, tasks: list[NewTask], ready_at: float, now: float
    ) -> None:
        await conn.execute_fetchall(self.q["enqueue"], (queue, ready_at, now, json.dumps(tasks)))

    async def ack(self, conn: Any, receipts: list[tuple[int, int]], now: float) -> set[int]:
        rows = await conn.execute_fetchall(self.q["ack"], (json.dumps(receipts), now))
        return {r[0] for r in rows}

    async def release(self, conn: Any, seqs: list[int], token: int) -> None:
        await conn.execute_fetchall(self.q["release"], (json.dumps(seqs), token))

    async def dead_letter(
        self, conn: Any, queue: str, seq: int, token: int, now: float, buried: Buried
    ) -> bool:
        b = buried
        async with self.transaction(conn):
            rows = await conn.execute_fetchall(self.q["dead_letter_take"], (queue, seq, token, now))
            if not rows:
                return False
            [(task_id, priority, attempts)] = rows
            await conn.execute_fetchall(
                self.q["dead_letter_put"],
                (
                    queue,
                    task_id,
                    priority,
                    b.created_at,
                    attempts,
                    b.error_kind,
                    b.error,
                    b.at,
                    now,
                    b.payload,
                    b.task,
                ),
            )
        return True

    async def reprocess(
        self, conn: Any, queue: str, ids: list[str], now: float, reset: bool
    ) -> int:
        place = {task_id: n for n, task_id in enumerate(ids)}
        async with self.transaction(conn):
            rows = await conn.execute_fetchall(self.q["reprocess_take"], (queue, json.dumps(ids)))
            back = [
                (task_id, priority, 0 if reset else attempts, task)
                for task_id, priority, attempts, task in sorted(rows, key=lambda r: place[r[0]])
            ]
            if back:
                await self.enqueue(conn, queue, back, now, now)
        return len(back)

    async def discard(self, conn: Any, queue: str, ids: list[str]) -> int:
        return len(await conn.execute_fetchall(self.q["discard"], (queue, json.dumps(ids))))

    async def purge(self, conn: Any, queue: str) -> None:
        async with self.transaction(conn):
            await conn.execute_fetchall(self.q["purge_tasks"], (queue,))
            await conn.execute_fetchall(self.q["purge_dead_letters"], (queue,))


def _configure(dbapi_connection: Any, _record: Any) -> None:
    """Each new connection: WAL, the durability level, busy_timeout, Python's lower()."""
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode = WAL",
        "synchronous = NORMAL",
        f"busy_timeout = {BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    dbapi_connection.create_function("queuelab_lower", 1, _lower, deterministic=True)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _open_and_close(path: str) -> None:
    sqlite3.connect(path).close()
