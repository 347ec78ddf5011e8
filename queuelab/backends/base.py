"""The one TaskQueue interface every backend implements.

Delivery is at-least-once: `claim` hands out a task under a lease; only `ack` removes it.
A worker that dies mid-task loses nothing, because an expired lease makes the task
claimable again (its `attempts` then already counts the lost try). `nack` puts a task back
after a delay (a retry with backoff); `dead_letter` parks it with the error for a person.

Lease and retry times here are wall-clock seconds (`time.time()` of the machine): leases
must survive a process restart and be judged by other processes. The task's own times
(`created_at`, the attempt history) are scenario seconds set by the engine.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task


class BackendError(Exception):
    """A backend cannot do what was asked: unreachable, refused, misconfigured.

    The message is meant for a person and never carries a password.
    """


class DisciplineMismatch(BackendError):
    """The named queue exists with another discipline (FIFO vs priority) than asked for.

    Redis and RabbitMQ fix a queue's discipline when it is first used; the app offers a
    fresh queue name instead (`queue`: the name refused; `found`: its discipline, if known).
    """

    def __init__(self, message: str, queue: str, found: str | None = None) -> None:
        super().__init__(message)
        self.queue = queue
        self.found = found


class LeaseLost(BackendError):
    """A delivery's receipt is void: its lease ran out, or the queue was purged.

    `ack`, `nack`, `dead_letter` and `extend` raise it and change nothing, so a worker that
    overran its lease can never remove or re-queue the task another worker has claimed since.
    The engine counts such a finish as abandoned; the task's new holder decides its fate.
    """


@dataclass(slots=True)
class Delivery:
    """A claimed task and the receipt needed to ack, nack or dead-letter it."""

    task: Task
    receipt: object  # backend-specific token (row id + lease token, delivery tag, stream id …)
    lease_until: float  # wall-clock second after which another worker may claim it again


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Where the tasks a backend holds are right now."""

    ready: int  # claimable now
    delayed: int  # waiting for a retry delay to pass
    leased: int  # claimed and not yet acked (in flight)
    dead: int  # dead-lettered
    #: some figure is still loading, kept moving while it was read (RabbitMQ deliveries
    #: arriving throughout), or comes from a source that lags (RabbitMQ's management
    #: statistics for the leases other processes hold): say so rather than trust it. Not
    #: part of equality: the figures are what they are.
    approximate: bool = field(default=False, compare=False)
    reason: str = field(default="", compare=False)  # why they are approximate, for people

    @property
    def total(self) -> int:
        return self.ready + self.delayed + self.leased + self.dead

    @property
    def caveat(self) -> str:
        """' (approximate: …)' to append where the counts are shown, or ''."""
        if not self.approximate:
            return ""
        return f" (approximate: {self.reason})" if self.reason else " (approximate)"


class TaskQueue(ABC):
    """An asynchronous task queue with leases, delayed retries and a dead-letter queue.

    Implementations keep the bookkeeping rules identical (the contract suite in
    `tests/backends/` checks them); only storage differs.
    """

    #: the URL the queue was opened with, password masked; safe to log or show
    url: str = ""
    #: seconds by which `counts()` may trail this process's own acks (0: never). A server
    #: that applies acks asynchronously (JetStream) declares it; readers that compare counts
    #: with what they just did (the contract suite, audits) allow for it.
    counts_lag: float = 0.0

    # --- life cycle ---------------------------------------------------------------
    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create what is missing (schema, queues). Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Leased tasks stay leased; their leases run out normally."""

    async def __aenter__(self) -> TaskQueue:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def notices(self) -> list[str]:
        """What a person should know before trusting this queue with work, in words (e.g. a
        server that keeps nothing on disk); asked once after `open`. None by default."""
        return []

    # --- producing ----------------------------------------------------------------
    @abstractmethod
    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        """Add one task, claimable after `delay` seconds."""

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        """Add many tasks; backends override this with one round trip."""
        for task in tasks:
            await self.enqueue(task)

    # --- consuming ----------------------------------------------------------------
    @abstractmethod
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        """Claim up to `max_tasks` ready tasks for `lease` seconds.

        Order: higher priority first when the queue's discipline is priority, then oldest
        first. Waits up to `timeout` seconds for work (None: until some arrives, 0: not at
        all) and returns an empty list if none came. Increments each task's `attempts`.
        """

    @abstractmethod
    async def ack(self, delivery: Delivery) -> None:
        """The task is done: remove it for good.

        Raises `LeaseLost` (and removes nothing) once the receipt is void: always after
        another claim took the task; a backend may also refuse once the lease has run out.
        The same holds for `nack`, `dead_letter` and `extend`.
        """

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """Ack a claimed batch at once; backends override this with one round trip.

        Each delivery is judged as `ack` would judge it alone: those still held are removed,
        whatever happens to the others. If any receipt was void (a delivery listed twice
        counts once as held, then as void), `LeaseLost` is raised afterwards, naming how
        many of how many; nothing held is left unacked because of it.
        """
        void = 0
        for delivery in deliveries:
            try:
                await self.ack(delivery)
            except LeaseLost:
                void += 1
        if void:
            raise lease_lost_many(void, len(deliveries), self.url)

    @abstractmethod
    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Put the task back, claimable after `delay` seconds, with its updated history.

        The engine has already appended the failed attempt to `delivery.task.history`;
        the backend stores the task as it is now.
        """

    @abstractmethod
    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str,
                          at: float) -> None:
        """Move the task to the dead-letter queue with its error; `at` is scenario time."""

    async def extend(self, delivery: Delivery, lease: float) -> None:  # noqa: B027
        """Renew a lease for a long task (a heartbeat). Backends without it keep the old one."""

    # --- looking ------------------------------------------------------------------
    @abstractmethod
    async def counts(self) -> QueueCounts:
        """Ready, delayed, leased and dead-lettered counts."""

    async def size(self) -> int:
        """Tasks waiting to be claimed (ready now or after a retry delay)."""
        c = await self.counts()
        return c.ready + c.delayed

    @abstractmethod
    async def peek(self, n: int = 1) -> list[Task]:
        """The next `n` tasks a claim would take, without claiming them."""

    # --- dead letters -------------------------------------------------------------
    @abstractmethod
    async def dead_letters(self, query: DeadLetterQuery) -> DeadLetterPage:
        """One page of dead letters matching the query."""

    @abstractmethod
    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        """One dead letter by task id, or None."""

    @abstractmethod
    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Move dead letters back into the queue, each atomically; returns how many moved.

        A task is either still a dead letter or back in the queue, never both, never neither.
        With `reset_attempts` its attempt count starts again from zero (history is kept).
        """

    @abstractmethod
    async def discard(self, task_ids: Sequence[str]) -> int:
        """Delete dead letters for good; returns how many were deleted."""

    # --- tests and tools ----------------------------------------------------------
    @abstractmethod
    async def purge(self) -> None:
        """Delete everything this queue holds, dead letters included (tests, resets)."""


def lease_lost_many(void: int, total: int, url: str = "") -> LeaseLost:
    """The `LeaseLost` of `ack_many`: one message for every backend, counting the void."""
    where = f"{url}: " if url else ""
    return LeaseLost(
        f"{where}{void} of {total} receipts were void (lease run out or taken over); "
        "the others were acked"
    )


def wake_oldest(waiters: deque[asyncio.Future[bool]], n: int) -> int:
    """Wake up to `n` waiting claimers, oldest first, each by resolving its future with True;
    returns how many of the `n` wake-ups found no one. A waiter that gave up (its future
    done) or whose event loop has closed is dropped without counting."""
    while n > 0 and waiters:
        fut = waiters.popleft()
        if not fut.done() and not fut.get_loop().is_closed():
            fut.set_result(True)
            n -= 1
    return n
