"""`AmqpQueue`: the TaskQueue on RabbitMQ, tying the link, the consumer and the dead letters.

Settling a claimed task: ack is basic.ack. Nack and dead-letter publish the task as it is
now (attempts and history updated, by the engine) to the main queue, the delay ladder or
the dead-letter exchange, wait for the broker's confirm, and only then ack the original: a
crash in between leaves a duplicate (at-least-once), never a loss.

Counts. Ready is the main queue's `message_count` (queue.declare, passive) plus what this
process's handles have buffered; delayed sums the delay ladder; dead is the dead-letter
queue plus what this process holds of it; leased is what this process's handles hold. The
broker counts messages held by other processes as unacked and AMQP does not expose that
number, so a handle that does not consume takes other processes' leases from the
management API, whose figures lag a few seconds: those counts say `approximate`. The
broker's ready count is not ordered after our acks (see `Consumer.sync`), so a count is
read again until no delivery arrived while it was read (20 readings at most, then it says
`approximate` too).
Handles of one queue in one process (an engine and a tool, or the contract suite's two
handles) share that bookkeeping, and one dead-letter reader.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from aio_pika.abc import AbstractRobustChannel
from aiormq.exceptions import ChannelPreconditionFailed

from queuelab.backends.base import (
    BackendError,
    Delivery,
    DisciplineMismatch,
    LeaseLost,
    QueueCounts,
    TaskQueue,
)
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from . import management, topology
from .consumer import Consumer, Held
from .dead import DeadLetterStore
from .link import Link, Outgoing, describe_channel_error, is_trouble, retry_read
from .options import AmqpOptions
from .topology import MAX_PRIORITY, Names, delay_key, delay_ticks
from .wire import dead_message, dead_properties, new_message_id, task_properties

T = TypeVar("T")
_FIRST_PAGE = DeadLetterQuery()
_BATCH = 1000  # messages per pipelined publish in enqueue_many
_QUIET_TRIES = 20  # readings of the ready count that `counts` makes at most


def _received(handles: Iterable[AmqpQueue]) -> int:
    return sum(h._consumer.received for h in handles if h._consumer is not None)


_LAGGING_LEASES = ("leases held by other processes come from the broker's statistics, "
                   "which lag a few seconds")
_STILL_ARRIVING = "deliveries kept arriving while the ready count was read"


@dataclass(eq=False)
class _Shared:
    """What the handles of one broker queue in this process (and event loop) share."""

    handles: weakref.WeakSet[AmqpQueue] = field(default_factory=weakref.WeakSet)
    store: DeadLetterStore | None = None
    store_owner: AmqpQueue | None = None


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], _Shared]]
_SHARED = weakref.WeakKeyDictionary()


class AmqpQueue(TaskQueue):
    """A QueueLab queue on RabbitMQ; see the package docstring for the design."""

    def __init__(self, connection_url: str, shown_url: str, options: AmqpOptions) -> None:
        self.url = shown_url
        self.options = options
        self.discipline = options.discipline
        self.names = Names(options.queue)
        self._connection_url = connection_url
        parts = urlsplit(connection_url)
        self._key = (parts.hostname or "", str(parts.port or 5672), parts.path, options.queue)
        self._link: Link | None = None
        self._probe: AbstractRobustChannel | None = None
        self._consumer: Consumer | None = None
        self._shared: _Shared | None = None
        self._opening: asyncio.Lock | None = None

    # --- life cycle ---------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and declare the queue's broker objects (idempotent)."""
        if self._consumer is not None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._consumer is None:
                await self._connect(declare=True)

    async def _connect(self, *, declare: bool) -> None:
        link = Link(self._connection_url, self.url, self.options)
        await link.connect()
        try:
            probe = await link.channel()
            if declare:
                try:
                    assert link.connection is not None and link.connection.transport
                    await topology.declare(
                        await probe.get_underlay_channel(),
                        link.connection.transport.connection,
                        self.names,
                        self.options.priority,
                    )
                except BaseException as exc:
                    if not is_trouble(exc):
                        raise
                    text = describe_channel_error(exc, f"{self.url}: declaring {self.names.main}")
                    if isinstance(exc, ChannelPreconditionFailed):
                        found = "fifo" if self.options.priority else "priority"
                        raise DisciplineMismatch(text, self.options.queue, found) from None
                    raise BackendError(text) from None
            con = await link.channel()
        except BaseException:
            await link.close()
            raise
        self._link, self._probe = link, probe
        consumer = Consumer(
            link,
            con,
            self.names.main,
            self.names.dead,
            self.options.prefetch,
            self.options.priority,
            self._lost,
        )
        con.close_callbacks.add(lambda *_: consumer.void())
        con.reopen_callbacks.add(lambda *_: consumer.on_reopen())
        self._consumer = consumer
        loop = asyncio.get_running_loop()
        shared = _SHARED.setdefault(loop, {}).setdefault(self._key, _Shared())
        shared.handles.add(self)
        self._shared = shared

    async def close(self) -> None:
        """Unclaimed prefetched tasks go back to the queue at once; so do leased ones (the
        broker requeues what a closed channel held: a lease ends with its connection)."""
        consumer, self._consumer = self._consumer, None
        link, self._link = self._link, None
        shared, self._shared = self._shared, None
        if consumer is not None:
            try:
                await consumer.stop()
            except BaseException as exc:
                if not is_trouble(exc):
                    raise
        if shared is not None:
            shared.handles.discard(self)
            if shared.store_owner is self:
                store, shared.store, shared.store_owner = shared.store, None, None
                if store is not None:
                    await store.close()
        if link is not None:
            await link.close()

    async def destroy(self) -> None:
        """Delete the queue's broker objects and every message in them (tests and resets)."""
        if self._link is None:
            await self._connect(declare=False)
        assert self._probe is not None and self._consumer is not None
        await self._consumer.stop()
        shared = self._shared
        if shared is not None and shared.store_owner is self and shared.store is not None:
            await shared.store.close()
            shared.store = shared.store_owner = None
        ch = await self._probe.get_underlay_channel()
        await topology.delete(ch, self.names)
        await self.close()

    async def _ready(self) -> Consumer:
        consumer = self._consumer
        if consumer is None:
            await self.open()
            consumer = self._consumer
            assert consumer is not None
        return consumer

    # --- producing ----------------------------------------------------------------------
    def _priority_of(self, task: Task) -> int | None:
        if not self.options.priority:
            return None
        return min(max(task.priority, 0), MAX_PRIORITY)

    def _outgoing(self, task: Task, delay: float) -> Outgoing:
        props = task_properties(new_message_id(), self._priority_of(task))
        body = task.to_json().encode()
        if delay > 0:
            key = delay_key(delay_ticks(delay))
            return Outgoing(self.names.delay_entry, key, body, props)
        return Outgoing("", self.names.main, body, props)

    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        await self._ready()
        assert self._link is not None
        await self._link.publish([self._outgoing(task, delay)])

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        await self._ready()
        assert self._link is not None
        batch: list[Outgoing] = []
        for task in tasks:
            batch.append(self._outgoing(task, 0.0))
            if len(batch) >= _BATCH:
                await self._link.publish(batch)
                batch = []
        if batch:
            await self._link.publish(batch)

    # --- consuming ----------------------------------------------------------------------
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        if lease <= 0 or max_tasks < 1:
            raise ValueError(f"claim needs lease > 0 and max_tasks >= 1 ({lease}, {max_tasks})")
        consumer = await self._ready()
        if consumer.buffered < max_tasks and consumer.room() and consumer.reachable():
            await self._tolerate(consumer.sync())
        got = consumer.take(max_tasks, lease)
        if got or (timeout is not None and timeout <= 0):
            return got
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            await consumer.wait(deadline)
            got = consumer.take(max_tasks, lease)
            if got:
                return got
            if deadline is not None and loop.time() >= deadline:
                return []
            if consumer.room() and consumer.reachable():  # a recheck, e.g. after a drop
                await self._tolerate(consumer.sync())
                got = consumer.take(max_tasks, lease)
                if got:
                    return got

    async def _tolerate(self, call: Awaitable[object]) -> None:
        """A claim that meets a dropped connection finds nothing now, instead of failing."""
        try:
            await call
        except BaseException as exc:
            if not is_trouble(exc):
                raise

    def _held(self, delivery: Delivery) -> Held:
        held = delivery.receipt
        if not isinstance(held, Held):
            raise self._lost(delivery)
        if held.task is not None and held.task.id != delivery.task.id:
            raise BackendError(
                f"{self.url}: delivery of {held.task.id!r} came back as task {delivery.task.id!r}"
            )
        return held

    def _lost(self, what: Delivery | Held) -> LeaseLost:
        task = what.task
        name = task.id if task is not None else "?"
        return LeaseLost(
            f"{self.url}: the lease on task {name!r} has run out or its connection closed; "
            "its receipt is void"
        )

    async def ack(self, delivery: Delivery) -> None:
        held = self._held(delivery)
        await held.owner.ack(held)

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        await self._replace(delivery, self._outgoing(delivery.task, delay))

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str, at: float) -> None:
        dead = DeadLetter(delivery.task, error_kind, error, at)
        body, task_bytes = dead_message(dead)
        props = dead_properties(new_message_id(), dead, task_bytes, self._priority_of(dead.task))
        item = Outgoing(self.names.dead, "", body, props)
        await self._replace(delivery, item)

    async def _replace(self, delivery: Delivery, item: Outgoing) -> None:
        """Publish the task's next state (confirmed), then ack the original."""
        held = self._held(delivery)
        owner = held.owner
        owner.hold(held)
        held.settling = True
        try:
            await owner.link.publish([item])
        except BaseException:
            owner.release(held)
            raise
        await owner.finish(held)

    async def extend(self, delivery: Delivery, lease: float) -> None:
        """Move the lease's deadline (a heartbeat); `delivery.lease_until` is updated."""
        if lease <= 0:
            raise ValueError(f"extend needs lease > 0 ({lease})")
        held = self._held(delivery)
        delivery.lease_until = held.owner.extend(held, lease)

    async def set_prefetch(self, n: int) -> None:
        """Change basic.qos prefetch while running (tasks this handle may hold unacked)."""
        if not 1 <= n <= 65535:
            raise ValueError(f"prefetch must be 1..65535, not {n}")
        consumer = await self._ready()
        await consumer.set_prefetch(n)

    @property
    def reconnects(self) -> int:
        """How often the connection came back after a drop (for panes and tests)."""
        return self._link.reconnects if self._link is not None else 0

    @property
    def prefetch(self) -> int:
        return self._consumer.prefetch if self._consumer is not None else self.options.prefetch

    # --- looking ------------------------------------------------------------------------
    def _handles(self) -> list[AmqpQueue]:
        shared = self._shared
        return [h for h in (shared.handles if shared else ()) if h._consumer is not None]

    async def counts(self) -> QueueCounts:
        consumer = await self._ready()

        async def look() -> QueueCounts:
            assert self._link is not None and self._probe is not None
            probe = await self._link.rpc_channel(self._probe)
            handles = self._handles()
            # ready is the broker's count plus what the handles buffered; a delivery arriving
            # meanwhile may be in both (see Consumer.sync): read again until none arrives
            for _ in range(_QUIET_TRIES):
                seen = _received(handles)
                if consumer.active:  # on the consuming channel, so after our own acks
                    ready = await consumer.sync()
                else:
                    ok = await probe.queue_declare(self.names.main, passive=True)
                    ready = int(ok.message_count or 0)
                for h in handles:
                    if h is not self and h._consumer is not None:
                        await h._consumer.barrier()
                if _received(handles) == seen:
                    settled = True
                    break
            else:
                settled = False  # deliveries kept coming: the last reading, said approximate
            delayed = 0
            for level in range(topology.LEVELS):
                ok = await probe.queue_declare(self.names.delay(level), passive=True)
                delayed += int(ok.message_count or 0)
            store = self._shared.store if self._shared else None
            if store is not None:
                dead = await store.count()
            else:
                ok = await probe.queue_declare(self.names.dead, passive=True)
                dead = int(ok.message_count or 0)
            buffered = leased = 0
            consuming = False
            for h in handles:
                c = h._consumer
                if c is not None:
                    c.void()
                    buffered += c.buffered
                    leased += len(c.leased)
                    consuming |= c.active
            if not consuming:  # leases only other processes hold: the broker's count,
                # sampled every few seconds (or unknown): approximate, and said so
                others = await management.unacknowledged(
                    self._connection_url, self.names.main, self.options.management_port,
                    self.options.connect_timeout,
                )
                leased += others or 0
            return QueueCounts(ready + buffered, delayed, leased, dead,
                               approximate=not consuming or not settled,
                               reason=", ".join(
                                   ([_LAGGING_LEASES] if not consuming else [])
                                   + ([_STILL_ARRIVING] if not settled else [])))

        return await self._retrying(look, "count")

    async def peek(self, n: int = 1) -> list[Task]:
        consumer = await self._ready()
        if consumer.buffered < n and consumer.room():
            await self._retrying(consumer.sync, "peek")
        return consumer.peek(n)

    async def _retrying(self, op: Callable[[], Awaitable[T]], verb: str) -> T:
        """A read, again after a reconnection, up to `publish_timeout`."""
        assert self._link is not None
        return await retry_read(self._link, op, verb)

    # --- dead letters -------------------------------------------------------------------
    async def _store(self) -> DeadLetterStore:
        await self._ready()
        shared = self._shared
        assert shared is not None and self._link is not None
        if shared.store is None or shared.store_owner is None or shared.store_owner._link is None:
            shared.store = DeadLetterStore(self._link, self.names, self._priority_of)
            shared.store_owner = self
        return shared.store

    async def dead_letters(self, query: DeadLetterQuery = _FIRST_PAGE) -> DeadLetterPage:
        return await (await self._store()).page(query)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        return await (await self._store()).get(task_id)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Back to the end of the queue (priority: the end of its level), history kept."""
        return await (await self._store()).reprocess(task_ids, reset_attempts)

    async def discard(self, task_ids: Sequence[str]) -> int:
        return await (await self._store()).discard(task_ids)

    # --- tests and tools ----------------------------------------------------------------
    async def purge(self) -> None:
        """Delete every message of the queue: ready, delayed, dead, and what this process
        holds (its receipts become void). Messages held by other processes survive."""
        await self._ready()

        async def wipe() -> None:
            assert self._link is not None and self._probe is not None
            probe = await self._link.rpc_channel(self._probe)
            for level in range(topology.LEVELS):
                await probe.queue_purge(self.names.delay(level))
            await probe.queue_purge(self.names.main)
            await probe.queue_purge(self.names.dead)
            for h in self._handles():
                c = h._consumer
                if c is None:
                    continue
                await c.barrier()
                for held in c.drop_all():
                    if not held.channel.is_closed:
                        await held.channel.basic_ack(held.tag, wait=False)
            store = self._shared.store if self._shared else None
            if store is not None:
                await store.drop_all()

        await self._retrying(wipe, "purge")
