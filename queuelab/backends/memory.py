"""The in-memory queue: FIFO or priority, with leases, delayed retries and dead letters.

It is the app's default and the yardstick the other backends are measured against, so the
hot path (enqueue, claim, ack) stays a few dict and deque operations on the `Task` objects
themselves: no JSON round trip and no copies. A consequence worth knowing: a task's holder
and the queue share one `Task` object.

Task ids must be unique among the tasks a queue holds (the engines' are). Like
asyncio.Queue, this queue does not pay to check that on every enqueue; it only refuses to
dead-letter a task whose id is already in the dead-letter queue.

Everything runs on one asyncio thread, so each method is atomic simply by never awaiting
in the middle of its bookkeeping.

Leases: each claim gets a fresh receipt (a process-unique integer). A lease ends at
`lease_until` by the queue's clock; from then on its receipt is void (`LeaseLost`), even
before another worker re-claims the task, and the task is claimable again, ahead of tasks
never claimed. Leases live in one dict in claim order; while deadlines arrive in order (the
usual case: one lease length) its oldest entries expire first, and a deadline that arrives
out of order is also put on a heap. Retry due times sit in a heap. Nothing is scanned until
the clock passes `_next_due`, a lower bound of the earliest deadline, so the hot path pays
for none of this. Claimers that wait are woken by enqueue, nack and reprocess, and by one
`loop.call_later` timer set for the next deadline: no polling.

Shared stores: `open_queue("memory://jobs")` returns the one queue named "jobs" in this
process (`memory://` is "default"), so the live engine and a test or tool can look at the
same queue. `close()` leaves it intact; `purge()` empties it. Construct `MemoryQueue`
directly for a private queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from heapq import heapify, heappop, heappush, nsmallest
from itertools import islice
from operator import attrgetter
from typing import Any

from queuelab.backends import BackendError, redact_url
from queuelab.backends.base import Delivery, LeaseLost, QueueCounts, TaskQueue, wake_oldest
from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

DISCIPLINES = ("fifo", "priority")
_OPTIONS = ("discipline", "clock")

#: receipts are unique across every MemoryQueue in the process, so a delivery from one
#: queue can never ack a task of another
_RECEIPTS = itertools.count(1)

#: a priority task whose lease expired re-enters its level ahead of every fresh task
_EXPIRED_SEQ = -(2**62)

_REGISTRY: dict[str, MemoryQueue] = {}

_BY_RECEIPT = attrgetter("receipt")
_FIRST_PAGE = DeadLetterQuery()
_INF = math.inf

# lease bookkeeping that holds this many more stale entries than live leases is rebuilt
_COMPACT_SLACK = 1024


class MemoryQueue(TaskQueue):
    """A queue held in this process's memory; see the module docstring for the rules.

    `clock` returns wall-clock seconds (`time.time` by default); tests pass a fake one to
    expire leases without sleeping. A jump of a fake clock is noticed at the queue's next
    operation. Claim timeouts are event-loop time, never the clock.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        discipline: str = "fifo",
        clock: Callable[[], float] = time.time,
        url: str | None = None,
    ) -> None:
        if discipline not in DISCIPLINES:
            raise BackendError(
                f"memory:// discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
            )
        self.name = name
        self.discipline = discipline
        self.url = redact_url(url) if url is not None else f"memory://{name}"
        self._clock = clock
        self._fifo = discipline == "fifo"
        # fifo: deque[Task]; priority: heap of (-priority, seq, Task)
        self._ready: Any = deque() if self._fifo else []
        self._seq = itertools.count()
        self._delayed: list[tuple[float, int, Task]] = []  # heap of (due, seq, task)
        # receipt -> the Delivery handed out (its lease_until is the lease's truth), in
        # claim order; deadlines that arrive out of order are also on the heap
        self._leased: dict[object, Delivery] = {}
        self._last_until = -_INF  # the latest deadline that arrived in order
        self._lease_heap: list[tuple[float, object]] = []  # lazily pruned
        self._next_due = _INF  # no deadline (lease, retry) is earlier than this
        self._dead: dict[str, DeadLetter] = {}
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    # --- life cycle ---------------------------------------------------------------
    async def close(self) -> None:
        """Nothing to release: the store lives on for other holders of this name."""

    # --- producing ----------------------------------------------------------------
    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        if delay > 0:
            self._push_delayed(task, self._clock() + delay)
            return
        if self._fifo:
            self._ready.append(task)
        else:
            heappush(self._ready, (-task.priority, next(self._seq), task))
        if self._waiters:
            self._wake(1)

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        batch = list(tasks)
        if self._fifo:
            self._ready.extend(batch)
        else:
            ready, seq = self._ready, self._seq
            for task in batch:
                heappush(ready, (-task.priority, next(seq), task))
        if self._waiters:
            self._wake(len(batch))

    # --- consuming ----------------------------------------------------------------
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        now = self._clock()
        if now >= self._next_due:
            self._advance(now)
        ready = self._ready
        if ready and max_tasks == 1 and lease > 0 and not self._waiters:
            # the hot path, inlined: one task, nobody waiting
            task = ready.popleft() if self._fifo else heappop(ready)[2]
            task.attempts += 1
            receipt = next(_RECEIPTS)
            until = now + lease
            delivery = Delivery(task, receipt, until)
            self._leased[receipt] = delivery
            if until < self._last_until:
                self._out_of_order(until, receipt)
            else:
                self._last_until = until
                if until < self._next_due:
                    self._next_due = until
            return [delivery]
        if lease <= 0 or max_tasks < 1:
            raise ValueError(f"claim needs lease > 0 and max_tasks >= 1 ({lease}, {max_tasks})")
        if ready:
            return self._take(now, lease, max_tasks)
        if timeout is not None and timeout <= 0:
            return []
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            woken = await self._wait(loop, deadline)
            now = self._clock()
            if now >= self._next_due:
                self._advance(now)
            if self._ready:
                return self._take(now, lease, max_tasks)
            if not woken:
                return []

    async def ack(self, delivery: Delivery) -> None:
        held = self._leased.pop(delivery.receipt, None)
        if held is None or held.lease_until <= self._clock():
            if held is not None:  # expired, not yet reaped: put it back for the reaper
                self._leased[held.receipt] = held
                self._out_of_order(held.lease_until, held.receipt)
            raise self._lost(delivery)

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        now = self._clock()
        self._holder(delivery, now)
        del self._leased[delivery.receipt]
        task = delivery.task
        if delay > 0:
            self._push_delayed(task, now + delay)
            return
        if self._fifo:
            self._ready.append(task)
        else:
            heappush(self._ready, (-task.priority, next(self._seq), task))
        if self._waiters:
            self._wake(1)

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str, at: float) -> None:
        task = delivery.task
        self._holder(delivery, self._clock())
        if task.id in self._dead:  # the one place a duplicate id would lose a task silently
            raise BackendError(f"{self.url}: a task {task.id!r} is already dead-lettered")
        del self._leased[delivery.receipt]
        self._dead[task.id] = DeadLetter(task, error_kind, error, at)

    async def extend(self, delivery: Delivery, lease: float) -> None:
        """Renew the lease from now; `delivery.lease_until` is updated in place."""
        if lease <= 0:
            raise ValueError(f"extend needs lease > 0 ({lease})")
        now = self._clock()
        held = self._leased.get(delivery.receipt)
        if held is None or held.lease_until <= now:
            raise self._lost(delivery)
        until = now + lease
        held.lease_until = delivery.lease_until = until
        del self._leased[held.receipt]  # to the end of the claim order
        self._leased[held.receipt] = held
        if until < self._last_until:
            self._out_of_order(until, held.receipt)
        else:
            self._last_until = until

    # --- looking ------------------------------------------------------------------
    def reorder(self, discipline: str) -> None:
        """Take another discipline, putting the tasks that wait in its order."""
        if discipline not in ("fifo", "priority"):
            raise BackendError(f"discipline: must be fifo or priority (got {discipline!r})")
        waiting = list(self._ready) if self._fifo else [e[2] for e in sorted(self._ready)]
        self.discipline = discipline
        self._fifo = discipline == "fifo"
        if self._fifo:
            self._ready = deque(waiting)
        else:
            self._ready = [(-t.priority, next(self._seq), t) for t in waiting]
            heapify(self._ready)

    async def counts(self) -> QueueCounts:
        now = self._clock()
        if now >= self._next_due:
            self._advance(now)
        return QueueCounts(
            ready=len(self._ready),
            delayed=len(self._delayed),
            leased=len(self._leased),
            dead=len(self._dead),
        )

    async def peek(self, n: int = 1) -> list[Task]:
        now = self._clock()
        if now >= self._next_due:
            self._advance(now)
        if self._fifo:
            return list(islice(self._ready, n))
        return [task for _, _, task in nsmallest(n, self._ready)]

    # --- dead letters -------------------------------------------------------------
    async def dead_letters(self, query: DeadLetterQuery = _FIRST_PAGE) -> DeadLetterPage:
        return page_of(self._dead.values(), query)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        return self._dead.get(task_id)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Back to the end of the queue (priority: the end of its level), history kept."""
        moved = 0
        for task_id in task_ids:
            dead = self._dead.pop(task_id, None)
            if dead is None:
                continue
            task = dead.task
            if reset_attempts:
                task.attempts = 0
            if self._fifo:
                self._ready.append(task)
            else:
                heappush(self._ready, (-task.priority, next(self._seq), task))
            moved += 1
        if moved and self._waiters:
            self._wake(moved)
        return moved

    async def discard(self, task_ids: Sequence[str]) -> int:
        gone = 0
        for task_id in task_ids:
            if self._dead.pop(task_id, None) is not None:
                gone += 1
        return gone

    # --- tests and tools ----------------------------------------------------------
    async def purge(self) -> None:
        """Empty the store; outstanding receipts become void. Waiting claimers keep waiting."""
        self._ready.clear()
        self._delayed.clear()
        self._leased.clear()
        self._lease_heap.clear()
        self._last_until = -_INF
        self._next_due = _INF
        self._dead.clear()
        self._cancel_timer()

    # --- internals ----------------------------------------------------------------
    def _lost(self, delivery: Delivery) -> LeaseLost:
        return LeaseLost(
            f"{self.url}: the lease on task {delivery.task.id!r} has run out or was "
            "taken over; its receipt is void"
        )

    def _holder(self, delivery: Delivery, now: float) -> Delivery:
        """The live lease behind a delivery handed back by nack or dead_letter.

        Raises LeaseLost if the receipt is void, BackendError if the delivery now carries
        another task than the one claimed.
        """
        held = self._leased.get(delivery.receipt)
        if held is None or held.lease_until <= now:
            raise self._lost(delivery)
        if delivery.task.id != held.task.id:
            raise BackendError(
                f"{self.url}: delivery of {held.task.id!r} came back as task {delivery.task.id!r}"
            )
        return held

    def _take(self, now: float, lease: float, max_tasks: int) -> list[Delivery]:
        """Lease up to `max_tasks` ready tasks; the caller has checked some are ready."""
        until = now + lease
        ready, leased = self._ready, self._leased
        fifo = self._fifo
        out = []
        for _ in range(min(max_tasks, len(ready))):
            task = ready.popleft() if fifo else heappop(ready)[2]
            task.attempts += 1
            receipt = next(_RECEIPTS)
            delivery = Delivery(task, receipt, until)
            leased[receipt] = delivery
            out.append(delivery)
            if until < self._last_until:
                self._out_of_order(until, receipt)
        if until >= self._last_until:
            self._last_until = until
        if until < self._next_due:
            self._next_due = until
        if self._waiters:
            self._arm_timer(asyncio.get_running_loop())
        return out

    def _out_of_order(self, until: float, receipt: object) -> None:
        """Track a lease whose deadline is earlier than one claimed before it."""
        heap = self._lease_heap
        heappush(heap, (until, receipt))
        if until < self._next_due:
            self._next_due = until
        leased = self._leased
        if len(heap) > 2 * len(leased) + _COMPACT_SLACK:  # lazy deletion's bill
            live = [
                e for e in heap if (h := leased.get(e[1])) is not None and h.lease_until == e[0]
            ]
            heapify(live)
            self._lease_heap = live
        if self._waiters:
            self._arm_timer(asyncio.get_running_loop())

    def _push_delayed(self, task: Task, due: float) -> None:
        heappush(self._delayed, (due, next(self._seq), task))
        if due < self._next_due:
            self._next_due = due
        if self._waiters:
            self._arm_timer(asyncio.get_running_loop())

    def _advance(self, now: float) -> None:
        """Make expired leases and due retries claimable; wake that many waiting claimers."""
        leased = self._leased
        expired: list[Delivery] = []
        for held in leased.values():  # the oldest first: in deadline order but for the heap's
            if held.lease_until > now:
                break
            expired.append(held)
        for held in expired:
            del leased[held.receipt]
        heap = self._lease_heap
        while heap and heap[0][0] <= now:
            due = leased.get(heappop(heap)[1])
            if due is not None and due.lease_until <= now:
                del leased[due.receipt]
                expired.append(due)
        moved = len(expired)
        ready = self._ready
        if expired:
            # claimed before anything now ready, so they go first, in claim order
            expired.sort(key=_BY_RECEIPT)
            if self._fifo:
                ready.extendleft(d.task for d in reversed(expired))
            else:
                for d in expired:
                    heappush(ready, (-d.task.priority, _EXPIRED_SEQ + d.receipt, d.task))  # type: ignore[operator]
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            task = heappop(delayed)[2]
            if self._fifo:
                ready.append(task)
            else:
                heappush(ready, (-task.priority, next(self._seq), task))
            moved += 1
        self._next_due = min(
            next(iter(leased.values())).lease_until if leased else _INF,
            heap[0][0] if heap else _INF,
            delayed[0][0] if delayed else _INF,
        )
        if moved and self._waiters:
            self._wake(moved)

    def _wake(self, n: int) -> None:
        """Wake up to `n` waiting claimers, oldest first."""
        wake_oldest(self._waiters, n)

    async def _wait(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> bool:
        """Sleep until woken (True) or until `deadline` in loop time (False)."""
        fut: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(fut)
        self._arm_timer(loop)
        timeout = None if deadline is None else loop.call_at(deadline, _time_up, fut)
        try:
            return await fut
        except asyncio.CancelledError:
            # woken, then cancelled before running: hand the wake-up to the next claimer
            if fut.done() and not fut.cancelled() and fut.result() and self._ready:
                self._wake(1)
            raise
        finally:
            if timeout is not None:
                timeout.cancel()
            if not (fut.done() and not fut.cancelled() and fut.result()):
                with contextlib.suppress(ValueError):  # timed out or cancelled: still queued
                    self._waiters.remove(fut)

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        """Keep one timer at the next lease expiry or retry due time while claimers wait."""
        nxt = self._next_due
        if nxt == _INF or not self._waiters:
            self._cancel_timer()
            return
        if self._timer is not None and self._timer_loop is loop and self._timer_at <= nxt:
            return
        self._cancel_timer()
        # a millisecond late rather than early: the loop may run a timer slightly early
        delay = max(0.0, nxt - self._clock()) + 0.001
        self._timer = loop.call_later(delay, self._on_timer)
        self._timer_at, self._timer_loop = nxt, loop

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        loop, self._timer = self._timer_loop, None
        now = self._clock()
        if now >= self._next_due:
            self._advance(now)
        if self._waiters and loop is not None:
            self._arm_timer(loop)


def _time_up(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


def from_url(url: str, **options: Any) -> MemoryQueue:
    """The process-wide queue named by the URL's host and path, created on first use.

    Reopening a name with another discipline re-orders the waiting tasks by it (the newest
    rules win: one engine at a time drives a named queue); another clock is refused.
    """
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise BackendError(
            f"memory:// does not know the option(s) {', '.join(sorted(unknown))}; "
            f"it knows {', '.join(_OPTIONS)}"
        )
    rest = url.partition("://")[2]
    name = rest.split("?", 1)[0].split("#", 1)[0].strip("/") or "default"
    existing = _REGISTRY.get(name)
    if existing is None:
        queue = MemoryQueue(
            name,
            discipline=options.get("discipline", "fifo"),
            clock=options.get("clock", time.time),
            url=url,
        )
        _REGISTRY[name] = queue
        return queue
    discipline = options.get("discipline")
    if discipline is not None and discipline != existing.discipline:
        # the app runs one engine at a time on a named queue: the newest rules win, and the
        # tasks waiting are put in the new order
        existing.reorder(discipline)
    clock = options.get("clock")
    if clock is not None and clock is not existing._clock:
        raise BackendError(f"memory://{name} is already open with another clock")
    return existing
