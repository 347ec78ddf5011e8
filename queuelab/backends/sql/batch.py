"""Group commit: requests made while a statement is in flight ride together in the next one.

Sixteen workers that each claim one task, or ack one, would cost sixteen round trips and
sixteen commits (an fsync each on PostgreSQL). A `Batcher` sends the first request at once
and queues those that arrive meanwhile; when a statement returns, the next carries all of
them. Alone a request pays one event-loop tick; under load one statement serves many, and
each caller still gets its own answer (or its own `LeaseLost`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: runs one batch; returns one result per item, in order
Runner = Callable[[list[Item]], Awaitable[list[Result]]]
#: hands back results whose caller stopped waiting (a cancelled claim's tasks)
Orphans = Callable[[list[Result]], Coroutine[Any, Any, None]]


class Batcher(Generic[Item, Result]):
    """Runs concurrent requests as batches, at most `flights` statements at a time."""

    def __init__(
        self,
        run: Runner[Item, Result],
        *,
        flights: int = 1,
        max_batch: int = 1000,
        size: Callable[[Item], int] = lambda _: 1,
        orphans: Orphans[Result] | None = None,
    ) -> None:
        self._run = run
        self._flights = flights
        self._max_batch = max_batch
        self._size = size
        self._orphans = orphans
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flying = 0  # counted by the flights themselves: a done-callback would be late
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, fut))
        if self._flying < self._flights:
            self._flying += 1
            self._spawn(self._fly())
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and self._orphans is not None:
                # answered, then cancelled before it could take the answer: hand it back
                self._spawn(self._orphans([fut.result()]))
            raise

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the statements in flight and the hand-backs (closing the queue)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fly(self) -> None:
        try:
            await self._fly_while_pending()
        finally:
            self._flying -= 1

    async def _fly_while_pending(self) -> None:
        while self._pending:
            batch = self._take()
            if not batch:
                continue
            try:
                results = await self._run([item for item, _ in batch])
            except BaseException as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            lost = []
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    lost.append(result)
                else:
                    fut.set_result(result)
            if lost and self._orphans is not None:
                await self._orphans(lost)

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        """The next batch: waiting requests up to `max_batch` units, callers that left dropped."""
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        rest: list[tuple[Item, asyncio.Future[Result]]] = []
        units = 0
        for entry in self._pending:
            if entry[1].done():
                continue
            size = self._size(entry[0])
            if batch and units + size > self._max_batch:
                rest.append(entry)
            else:
                batch.append(entry)
                units += size
        self._pending = rest
        return batch
