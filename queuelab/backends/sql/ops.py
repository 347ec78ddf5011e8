"""The per-dialect hooks the SQL queue is built on: each one a statement or a short transaction.

`SqlQueue` does the bookkeeping once (batching, waiting, leases, turning rows into tasks);
a dialect only says how to run each step on its driver connection (the saq pattern). Rows
come back as tuples:

* claimed: (seq, priority, ready_at, attempts, task JSON)
* peeked:  (attempts, task JSON)
* dead:    (error_kind, error, dead_lettered_at, attempts, task JSON)
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from queuelab.backends.sql import sqlfiles
from queuelab.core.dead_letter_query import check, needle, window
from queuelab.core.task import DeadLetterQuery

#: claim order of each discipline; the tie-break on seq keeps enqueue order
CLAIM_ORDER = {"fifo": "ready_at, seq", "priority": "priority DESC, ready_at, seq"}

#: an enqueued task: (id, priority, attempts, task JSON)
NewTask = tuple[str, int, int, str]


@dataclass(frozen=True, slots=True)
class Buried:
    """What `dead_letter` stores besides the row it moves."""

    created_at: float
    error_kind: str
    error: str
    at: float
    payload: str
    task: str


class Ops(ABC):
    """One dialect's statements, run on a driver connection `conn`."""

    dialect: str
    #: how many claim statements, and how many ack statements, may be in flight at once
    claim_flights: int
    ack_flights: int
    #: the collation that orders text by code point, as Python's sort does
    collate: str = ""
    #: the dead-letter pane's filter; see dead_letter_page in the query files
    dl_filter: str

    def __init__(self) -> None:
        q = sqlfiles.queries(self.dialect)
        self.q = q
        self.claim_sql = {d: q["claim"].replace("{order}", o) for d, o in CLAIM_ORDER.items()}
        self.peek_sql = {d: q["peek"].replace("{order}", o) for d, o in CLAIM_ORDER.items()}
        self.dl_totals_sql = q["dead_letter_totals"].replace("{filter}", self.dl_filter)

    # --- connections and schema ------------------------------------------------------
    @abstractmethod
    def engine(self, database: Any, pool: int, connect_timeout: float) -> AsyncEngine:
        """The SQLAlchemy engine for the database, sized for `pool` held connections."""

    @abstractmethod
    def transaction(self, conn: Any) -> contextlib.AbstractAsyncContextManager[None]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, so the lock is taken up front)."""

    async def probe(self, database: Any) -> None:  # noqa: B027 - only SQLite needs it
        """Before the first connection: fail early, and cleanly, on a database that cannot be
        opened at all."""

    async def lock_schema(self, conn: Any) -> None:  # noqa: B027 - only PostgreSQL needs it
        """Inside the migration transaction: keep other processes out until it commits."""

    @abstractmethod
    async def fetch(self, conn: Any, sql: str, *args: Any) -> list[Sequence[Any]]:
        """Run one statement and return its rows."""

    # --- errors ----------------------------------------------------------------------
    @abstractmethod
    def transient(self, exc: BaseException) -> bool:
        """Is this a lost or busy connection, worth reconnecting and retrying for?"""

    @abstractmethod
    def duplicate(self, exc: BaseException) -> bool:
        """Is this a unique-key violation (a task id already held)?"""

    @abstractmethod
    def database_error(self, exc: BaseException) -> bool:
        """Did this come from the driver or the database (not from QueueLab's own checks)?"""

    @abstractmethod
    def describe(self, exc: BaseException) -> str:
        """One line for a person saying what went wrong (the caller scrubs the password)."""

    # --- tasks -----------------------------------------------------------------------
    @abstractmethod
    async def enqueue(
        self, conn: Any, queue: str, tasks: list[NewTask], ready_at: float, now: float
    ) -> None: ...

    async def claim(
        self,
        conn: Any,
        queue: str,
        discipline: str,
        now: float,
        limit: int,
        token: int,
        until: float,
    ) -> list[Sequence[Any]]:
        return await self.fetch(conn, self.claim_sql[discipline], queue, now, limit, token, until)

    @abstractmethod
    async def ack(self, conn: Any, receipts: list[tuple[int, int]], now: float) -> set[int]:
        """Delete the rows whose lease the receipts still hold; returns their seqs."""

    async def present(self, conn: Any, seqs: list[int]) -> set[int]:
        """Which of these rows exist (PostgreSQL's check after a lost reply)."""
        return set(seqs)

    async def extend(self, conn: Any, seq: int, token: int, now: float, until: float) -> bool:
        return bool(await self.fetch(conn, self.q["extend"], seq, token, now, until))

    async def nack(
        self, conn: Any, queue: str, seq: int, token: int, now: float, due: float, task: str
    ) -> bool:
        return bool(await self.fetch(conn, self.q["nack"], queue, seq, token, now, due, task))

    async def seq_of(self, conn: Any, queue: str, task_id: str) -> int | None:
        """The row a task id has now (PostgreSQL's check after a lost nack reply)."""
        return None

    @abstractmethod
    async def release(self, conn: Any, seqs: list[int], token: int) -> None:
        """Undo a claim nobody received."""

    async def id_of(self, conn: Any, seq: int, token: int) -> str | None:
        """The task id of a row this receipt holds, or None."""
        rows = await self.fetch(conn, self.q["id_of"], seq, token)
        return str(rows[0][0]) if rows else None

    @abstractmethod
    async def dead_letter(
        self, conn: Any, queue: str, seq: int, token: int, now: float, buried: Buried
    ) -> bool: ...

    async def is_dead(self, conn: Any, queue: str, task_id: str) -> bool:
        return False

    # --- looking ---------------------------------------------------------------------
    async def counts(self, conn: Any, queue: str, now: float) -> tuple[int, int, int, int]:
        [row] = await self.fetch(conn, self.q["counts"], queue, now)
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    async def peek(
        self, conn: Any, queue: str, discipline: str, now: float, n: int
    ) -> list[Sequence[Any]]:
        return await self.fetch(conn, self.peek_sql[discipline], queue, now, n)

    async def next_due(self, conn: Any, queue: str, now: float) -> float | None:
        [row] = await self.fetch(conn, self.q["next_due"], queue, now)
        return None if row[0] is None else float(row[0])

    # --- dead letters ----------------------------------------------------------------
    async def dead_letter_page(
        self, conn: Any, queue: str, query: DeadLetterQuery
    ) -> tuple[list[Sequence[Any]], int, int, list[str]]:
        """(rows, total matching, total, error kinds) of one page."""
        check(query)
        kind = query.error_kind or None
        text = needle(query)
        column = query.order_by + (self.collate if query.order_by in ("id", "error_kind") else "")
        way = "DESC" if query.descending else "ASC"
        # core.dead_letter_query's order: the column, then the task id, the same way
        order = f"{column} {way}, id{self.collate} {way}"
        page_sql = (
            self.q["dead_letter_page"].replace("{filter}", self.dl_filter).replace("{order}", order)
        )
        offset, limit = window(query)
        rows = await self.fetch(conn, page_sql, queue, kind, text, offset, limit)
        [totals] = await self.fetch(conn, self.dl_totals_sql, queue, kind, text)
        kinds = [r[0] for r in await self.fetch(conn, self.q["dead_letter_kinds"], queue)]
        return rows, int(totals[0]), int(totals[1]), kinds

    async def get_dead_letter(self, conn: Any, queue: str, task_id: str) -> Sequence[Any] | None:
        rows = await self.fetch(conn, self.q["get_dead_letter"], queue, task_id)
        return rows[0] if rows else None

    @abstractmethod
    async def reprocess(
        self, conn: Any, queue: str, ids: list[str], now: float, reset: bool
    ) -> int: ...

    @abstractmethod
    async def discard(self, conn: Any, queue: str, ids: list[str]) -> int: ...

    @abstractmethod
    async def purge(self, conn: Any, queue: str) -> None: ...


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (SQLAlchemy's `.orig`, `__cause__`, `__context__`)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
