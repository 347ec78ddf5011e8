"""PostgreSQL through asyncpg: single-statement operations and LISTEN/NOTIFY wake-ups.

Every operation is one statement (data-modifying CTEs make dead-lettering and reprocessing
atomic without a transaction round trip), so each costs one round trip and one commit.
Claims use FOR UPDATE SKIP LOCKED; enqueue, nack and reprocess NOTIFY channel `queuelab`
with "<queue> <count>", and a `Listener` per database and process wakes that many waiting
claimers. Polling stays as the fallback for a lost listener or a missed notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from queuelab.backends.sql.ops import Buried, NewTask, Ops, causes
from queuelab.core.dead_letter_query import SEARCHED

log = logging.getLogger(__name__)

CHANNEL = "queuelab"

#: SQLSTATE classes of a server going away or not yet there: 08 connection exception,
#: 57P operator intervention (admin shutdown, crash shutdown, cannot connect now)
_TRANSIENT_STATES = ("08", "57P")


class PostgresOps(Ops):
    dialect = "postgresql"
    # a few statements of each kind in flight: the server overlaps them (and their fsyncs,
    # by group commit); more only spread the same batches thinner
    claim_flights = 4
    ack_flights = 4
    collate = ' COLLATE "C"'
    # core.dead_letter_query's filter: the searched columns carry the rule's field names
    dl_filter = "($2::text IS NULL OR error_kind = $2::text) AND ($3::text = '' OR {})".format(
        " OR ".join(f"strpos(lower({c}), $3::text) > 0" for c in SEARCHED)
    )

    def engine(self, database: Any, pool: int, connect_timeout: float) -> AsyncEngine:
        return create_async_engine(
            database,
            isolation_level="AUTOCOMMIT",
            pool_size=pool + pool // 4 + 8,  # writes, reads, claims, the listener
            max_overflow=4,
            pool_pre_ping=True,
            pool_timeout=connect_timeout,
            connect_args={
                "timeout": connect_timeout,
                "server_settings": {"application_name": "queuelab"},
            },
        )

    @contextlib.asynccontextmanager
    async def transaction(self, conn: Any) -> AsyncIterator[None]:
        async with conn.transaction():
            yield

    async def lock_schema(self, conn: Any) -> None:
        await conn.fetch(self.q["lock_schema"])

    async def fetch(self, conn: Any, sql: str, *args: Any) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = await conn.fetch(sql, *args)
        return rows

    # --- errors ----------------------------------------------------------------------
    def transient(self, exc: BaseException) -> bool:
        for e in causes(exc):
            if isinstance(e, asyncpg.PostgresError):
                return str(getattr(e, "sqlstate", "") or "").startswith(_TRANSIENT_STATES)
            if isinstance(e, (OSError, TimeoutError, asyncpg.ConnectionDoesNotExistError)):
                return True
            # a connection is lent to one operation at a time, so "another operation is in
            # progress" means a protocol left half-way by a dropped connection
            if isinstance(e, asyncpg.InternalClientError) or (
                isinstance(e, asyncpg.InterfaceError)
                and any(w in str(e) for w in ("closed", "in progress"))
            ):
                return True
        return False

    def duplicate(self, exc: BaseException) -> bool:
        return any(isinstance(e, asyncpg.UniqueViolationError) for e in causes(exc))

    def database_error(self, exc: BaseException) -> bool:
        return isinstance(
            exc,
            (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
                SQLAlchemyError,
            ),
        )

    def describe(self, exc: BaseException) -> str:
        for e in causes(exc):
            if isinstance(e, ConnectionRefusedError):
                return "connection refused (is PostgreSQL running there?)"
            if isinstance(e, socket.gaierror):
                return f"unknown host ({e.strerror})"
            if isinstance(e, TimeoutError):
                return "no answer before the connect timeout"
            if isinstance(e, asyncpg.InvalidPasswordError):
                return f"wrong password: {_first_line(e)}"
            if isinstance(e, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                return _first_line(e)
        return _first_line(exc)

    # --- tasks -----------------------------------------------------------------------
    async def enqueue(
        self, conn: Any, queue: str, tasks: list[NewTask], ready_at: float, now: float
    ) -> None:
        ids, priorities, attempts, texts = zip(*tasks, strict=True)
        await conn.fetch(self.q["enqueue"], queue, ready_at, now, ids, priorities, attempts, texts)

    async def ack(self, conn: Any, receipts: list[tuple[int, int]], now: float) -> set[int]:
        token_of = json.dumps(dict(receipts))  # {"seq": token}: see the ack statement
        seqs = [seq for seq, _ in receipts]
        return {r[0] for r in await conn.fetch(self.q["ack"], seqs, token_of, now)}

    async def present(self, conn: Any, seqs: list[int]) -> set[int]:
        return {r[0] for r in await conn.fetch(self.q["present"], seqs)}

    async def seq_of(self, conn: Any, queue: str, task_id: str) -> int | None:
        seq: int | None = await conn.fetchval(self.q["seq_of"], queue, task_id)
        return seq

    async def release(self, conn: Any, seqs: list[int], token: int) -> None:
        await conn.fetch(self.q["release"], seqs, token)

    async def dead_letter(
        self, conn: Any, queue: str, seq: int, token: int, now: float, buried: Buried
    ) -> bool:
        b = buried
        rows = await conn.fetch(
            self.q["dead_letter"],
            queue,
            seq,
            token,
            now,
            b.created_at,
            b.error_kind,
            b.error,
            b.at,
            b.payload,
            b.task,
        )
        return bool(rows)

    async def is_dead(self, conn: Any, queue: str, task_id: str) -> bool:
        return bool(await conn.fetch(self.q["is_dead"], queue, task_id))

    async def reprocess(
        self, conn: Any, queue: str, ids: list[str], now: float, reset: bool
    ) -> int:
        # The write session turns sorting off (INDEXED_ONLY), but putting the moved tasks
        # in the given order needs one sort; without it the planner kept the order with a
        # nested loop over every pair of rows (100,000 ids: over a minute instead of 1 s).
        async with conn.transaction():
            await conn.execute(REPROCESS_SORTS)
            return int(await conn.fetchval(self.q["reprocess"], queue, ids, now, reset))

    async def discard(self, conn: Any, queue: str, ids: list[str]) -> int:
        return int(await conn.fetchval(self.q["discard"], queue, ids))

    async def purge(self, conn: Any, queue: str) -> None:
        await conn.fetch(self.q["purge"], queue)


#: For the connections that write. Every statement they run is an index lookup by design
#: (a claim reads the claim index in order; the rest find rows by key). A queue table
#: swings between empty and full, and statistics taken while it was empty made the planner
#: sort the whole queue instead (one row expected): 38 ms instead of 0.3 ms per claim, and
#: an ack became a full-table hash join. These settings only say what the statements mean.
#: jit off: a disabled plan node costs 1e10, which passes jit_above_cost, and compiling a
#: sub-millisecond statement took 0.6 s (reprocess, whose few rows must be sorted).
INDEXED_ONLY = "SET enable_seqscan TO off; SET enable_sort TO off; SET jit TO off"


#: for the reprocess statement only: it needs its one sort (see PostgresOps.reprocess)
REPROCESS_SORTS = "SET LOCAL enable_sort TO on"


async def write_session(conn: Any) -> None:
    await conn.execute(INDEXED_ONLY)


async def claim_session(conn: Any) -> None:
    """A claim connection: index-only plans, and commits not waited for.

    synchronous_commit off: commit without waiting for the WAL to reach the disk. Safe for
    claims, and only for them: a claim lost in a server crash merely makes its task
    claimable again, which at-least-once delivery allows; and any ack, nack or dead-letter
    that follows it commits durably, flushing the WAL past the claim. What a worker
    finishes, and every enqueue, is durable when the call returns. It saves one fsync per
    claim statement, which is what single-task claims wait for here.
    """
    await conn.execute(f"{INDEXED_ONLY}; SET synchronous_commit TO off")


class Listener:
    """One connection per database and process, LISTENing for new work.

    It is (re)started lazily by the first claimer that has to wait, at most once a second
    after a failure; until it runs, waiting claimers poll.
    """

    def __init__(self, engine: AsyncEngine, wake: Callable[[str, int], None]) -> None:
        self._engine = engine
        self._wake = wake
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._retry_at = 0.0
        self._starting: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def start(self) -> None:
        """Listen, if not already; a failure is logged and left to the polling fallback."""
        if self.alive:
            return
        loop = asyncio.get_running_loop()
        if self._starting is None:
            if loop.time() < self._retry_at:
                return
            self._starting = loop.create_task(self._start())
        try:
            await asyncio.shield(self._starting)
        finally:
            if self._starting is not None and self._starting.done():
                self._starting = None

    async def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        await self._drop()

    async def _start(self) -> None:
        await self._drop()
        try:
            conn = await self._engine.connect()
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(CHANNEL, self._on_notify)
            driver.add_termination_listener(self._on_lost)
        except Exception as exc:
            self._retry_at = asyncio.get_running_loop().time() + 1.0
            log.info("LISTEN failed, polling instead: %s", _first_line(exc))
            return
        self._conn, self._driver = conn, driver

    async def _drop(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # a LISTENing connection must not go back to the pool
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        queue, _, count = payload.rpartition(" ")
        self._wake(queue, int(count) if count.isdigit() else 1)

    def _on_lost(self, _conn: Any) -> None:
        self._driver = None  # the next waiting claimer starts a new one


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
