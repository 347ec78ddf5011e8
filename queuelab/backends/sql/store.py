"""One database as this process uses it: engine, held connections, schema, waiting claimers.

Every queue handle opened on the same database within one event loop shares a `Store`
(reference-counted, closed with its last handle). So a SQLite file has exactly one writer
connection in the process, a PostgreSQL database one LISTEN connection, and a claimer
waiting on one handle is woken by an enqueue through another.

`run` is where lost connections are survived: a statement that fails because the server
went away (a restart, a dropped socket) is retried on a fresh connection for up to
`reconnect_timeout` seconds. The operation is told that it is a retry, because a statement
whose reply was lost may have committed; each operation knows how to recognise its own
footprint (see `SqlQueue`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from queuelab.backends.base import BackendError, wake_oldest
from queuelab.backends.sql import migrate
from queuelab.backends.sql.config import SqlConfig
from queuelab.backends.sql.connections import Connections
from queuelab.backends.sql.ops import Ops
from queuelab.core.urls import mask

log = logging.getLogger(__name__)

T = TypeVar("T")
#: an operation: (driver connection, is this a retry after a lost connection) -> result
Operation = Callable[[Any, bool], Awaitable[T]]

_STORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Store]] = (
    weakref.WeakKeyDictionary()
)


def _ops(dialect: str) -> Ops:
    """The dialect's hooks; each module imports its driver, so only the one used is needed."""
    if dialect == "postgresql":
        from queuelab.backends.sql.postgres import PostgresOps

        return PostgresOps()
    from queuelab.backends.sql.sqlite import SqliteOps

    return SqliteOps()


async def acquire(config: SqlConfig) -> Store:
    """The open store of the configured database, opening it on first use."""
    stores = _STORES.setdefault(asyncio.get_running_loop(), {})
    store = stores.get(config.key)
    if store is None:
        store = stores[config.key] = Store(config, _ops(config.dialect))
    store.users += 1
    try:
        await store.ready()
    except BaseException:
        await release(store)
        raise
    return store


async def release(store: Store) -> None:
    store.users -= 1
    if store.users > 0:
        return
    stores = _STORES.get(asyncio.get_running_loop(), {})
    if stores.get(store.config.key) is store:
        del stores[store.config.key]
    await store.close()


class Store:
    """See the module docstring."""

    def __init__(self, config: SqlConfig, ops: Ops) -> None:
        self.config = config
        self.ops = ops
        self.users = 0
        self.notifies = config.dialect == "postgresql"  # wake-ups come through NOTIFY
        self._opening: asyncio.Task[None] | None = None
        self._engine: Any = None
        self.write: Connections  # enqueue, ack, nack, dead letters …
        self.claims: Connections  # claims (PostgreSQL: set up by postgres.claim_session)
        self.read: Connections  # counts, peek, dead-letter pages
        self._listener: Any = None
        self._waiters: dict[str, deque[asyncio.Future[bool]]] = {}
        #: per queue, the next retry or lease end as last read (None: nothing pending). It
        #: only shortens the pause of waiting claimers, so a stale value costs at most one
        #: poll interval; every wake-up (an enqueue, nack or NOTIFY) drops it.
        self.next_due: dict[str, float | None] = {}

    # --- life cycle ---------------------------------------------------------------
    async def ready(self) -> None:
        """Open once, however many handles ask at the same time."""
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open())
        try:
            await asyncio.shield(self._opening)
        except BaseException:
            if self._opening.done():
                self._opening = None  # let a later open try again
            raise

    async def _open(self) -> None:
        cfg = self.config
        self._engine = self.ops.engine(cfg.database, cfg.pool_size, cfg.connect_timeout)
        broken = self.ops.transient
        if cfg.dialect == "sqlite":
            self.write = self.claims = Connections(self._engine, 1, broken)
            self.read = Connections(self._engine, 2, broken)
        else:
            from queuelab.backends.sql.postgres import Listener, claim_session, write_session

            self.write = Connections(self._engine, cfg.pool_size, broken, write_session)
            self.claims = Connections(self._engine, self.ops.claim_flights, broken, claim_session)
            self.read = Connections(self._engine, max(2, cfg.pool_size // 4), broken)
            self._listener = Listener(self._engine, self.wake)
        try:
            await self.ops.probe(cfg.database)
            async with asyncio.timeout(cfg.connect_timeout * 2 + 5), self.write.lend() as conn:
                await migrate.migrate(self.ops, conn, cfg.shown)
        except BackendError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise BackendError(f"cannot open {cfg.shown}: {self.describe(exc)}") from None

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._engine is not None:
            for pool in {self.write, self.claims, self.read}:
                await pool.close()
            await self._engine.dispose()
            self._engine = None

    # --- statements ---------------------------------------------------------------
    async def run(self, pool: Connections, op: Operation[T]) -> T:
        """Run `op` on a lent connection, reconnecting and retrying while the server is away."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        pause = 0.05
        retried = False
        while True:
            if self._engine is None:
                raise BackendError(f"{self.config.shown}: the queue is closed")
            try:
                async with pool.lend() as conn:
                    return await op(conn, retried)
            except Exception as exc:
                if not self.ops.database_error(exc) and not isinstance(exc, TimeoutError):
                    raise
                if not self.ops.transient(exc):
                    raise BackendError(f"{self.config.shown}: {self.describe(exc)}") from exc
                failure = exc
            pool.drop_idle()
            now = loop.time()
            if deadline is None:
                deadline = now + self.config.reconnect_timeout
                log.warning("%s: %s; retrying", self.config.shown, self.describe(failure))
            if now >= deadline:
                raise BackendError(
                    f"{self.config.shown}: lost the database and could not reconnect within "
                    f"{self.config.reconnect_timeout:g} s: {self.describe(failure)}"
                ) from None
            await asyncio.sleep(min(pause, deadline - now))
            pause = min(pause * 2, 1.0)
            retried = True

    def describe(self, exc: BaseException) -> str:
        """One line about `exc` for a person, the credentials masked (a driver's message)."""
        return mask(self.ops.describe(exc), self.config.key)

    # --- waiting claimers ---------------------------------------------------------
    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.alive

    async def listen(self) -> None:
        if self._listener is not None:
            await self._listener.start()

    def wake(self, queue: str, n: int) -> None:
        """Wake up to `n` claimers waiting on `queue`, oldest first."""
        self.next_due.pop(queue, None)
        waiters = self._waiters.get(queue)
        if waiters:
            wake_oldest(waiters, n)

    async def wait(self, queue: str, seconds: float) -> None:
        """Sleep until woken or `seconds` pass."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        waiters = self._waiters.setdefault(queue, deque())
        waiters.append(fut)
        timer = loop.call_later(seconds, _time_up, fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                self.wake(queue, 1)  # woken, then cancelled: hand the wake-up on
            raise
        finally:
            timer.cancel()
            if not (fut.done() and not fut.cancelled() and fut.result()):
                with contextlib.suppress(ValueError):
                    waiters.remove(fut)
            if not waiters:
                self._waiters.pop(queue, None)


def _time_up(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)
