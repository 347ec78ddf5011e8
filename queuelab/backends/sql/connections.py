"""Driver connections held for a database's lifetime and lent out one statement at a time.

SQLAlchemy's engine makes, pings and disposes of the connections; the statements then run
on the driver connection it wraps (asyncpg, aiosqlite). Measured here, a statement through
`exec_driver_sql` cost ~1.7x the bare asyncpg call and ~5x the bare aiosqlite one (several
thread hops per statement), and a pool checkout per statement adds more: on the hot path
(claim, ack) that overhead would be most of the cost, so connections are checked out once
and kept.

A connection whose statement failed with a lost connection, or was interrupted by a
cancellation (which may leave a transaction open), is never lent again: it is invalidated
and a fresh one is made on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass(slots=True)
class _Held:
    conn: AsyncConnection  # SQLAlchemy's handle, kept to release the connection properly
    driver: Any  # the asyncpg.Connection or aiosqlite.Connection statements run on


class Connections:
    """Up to `size` connections, each lent to one statement (or transaction) at a time."""

    def __init__(
        self,
        engine: AsyncEngine,
        size: int,
        broken: Callable[[BaseException], bool],
        setup: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self._engine = engine
        self._size = size
        self._broken = broken  # does this error mean the connection is gone?
        self._setup = setup
        self._free: list[_Held] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Held | None]] = deque()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[Any]:
        """A driver connection for one statement or transaction."""
        held = await self._take()
        try:
            yield held.driver
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or self._broken(exc):
                self._discard(held)
            else:
                self._give(held)
            raise
        self._give(held)

    def drop_idle(self) -> None:
        """Invalidate the idle connections: after one was lost the server has likely gone."""
        while self._free:
            self._discard(self._free.pop())

    async def close(self) -> None:
        self._closed = True
        self.drop_idle()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # --- internals ----------------------------------------------------------------
    async def _take(self) -> _Held:
        while True:
            if self._closed:
                raise RuntimeError("the connections are closed")
            if self._free:
                return self._free.pop()
            if self._open < self._size:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake(None)
                    raise
            waiter: asyncio.Future[_Held | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                held = await waiter
            except asyncio.CancelledError:
                given = waiter.result() if waiter.done() and not waiter.cancelled() else None
                if given is not None:
                    self._give(given)  # handed over, then cancelled: pass it on
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise
            if held is not None:
                return held

    async def _connect(self) -> _Held:
        conn = await self._engine.connect()
        try:
            raw = await conn.get_raw_connection()
            held = _Held(conn, raw.driver_connection)
            if self._setup is not None:
                await self._setup(held.driver)
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()
            raise
        return held

    def _give(self, held: _Held) -> None:
        if self._closed:
            self._discard(held)
        elif not self._wake(held):
            self._free.append(held)

    def _wake(self, held: _Held | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return True
        return False

    def _discard(self, held: _Held) -> None:
        self._open -= 1
        task = asyncio.get_running_loop().create_task(_invalidate(held.conn))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        if not self._closed:
            self._wake(None)  # a waiter may now open a fresh connection


async def _invalidate(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()
