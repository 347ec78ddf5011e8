"""The consuming side of a queue handle: a broker consumer filling a local buffer, leases on
what `claim` hands out, and claimers waiting for work.

Why a consumer and not basic.get per claim: basic.get costs a round trip per task (about the
rate of prefetch 1 here, ~3,000/s) while a consumer streams up to `prefetch` messages ahead
(~10,000/s at 100). Deliveries land in a local buffer (a deque; for discipline=priority a
heap by AMQP priority, then arrival) and `claim` takes from it without a round trip.

Prefetch keeps RabbitMQ's meaning: at most that many unacked messages held by this handle,
leased plus buffered, and a claim never goes beyond it; a pool of W workers over prefetch
N < W keeps only N busy. That is the pool's prefetch knob; `set_prefetch` turns it while
running. It is RabbitMQ's per-consumer prefetch (global QoS is deprecated), which binds when
a consumer starts: a change re-subscribes - cancel, give the prefetched tasks back to the
queue, consume again with the new limit. Tasks already claimed finish outside the new window,
so until they are settled the handle may hold that many more.

A claim right after an enqueue (or an ack) must find the task although its delivery may
still be on the wire: a claim that finds the buffer short first syncs (`sync`), two round
trips that leave every delivery already made to us in the buffer.

Leases. The broker ends a lease only when the channel closes (a crash, a drop, `close()`):
it then requeues every unacked message, flagged redelivered. Within a live process, a lease
also ends by time, as in every other backend: a timer rejects (requeue) each delivery whose
`lease_until` passed, and its receipt is void from then on. `extend` moves the deadline. A
process whose event loop is stuck keeps its leases until RabbitMQ's consumer_timeout
(30 min by default) closes the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from heapq import heappop, heappush, nsmallest
from itertools import islice
from typing import TYPE_CHECKING, Any

import aiormq
from aio_pika.abc import AbstractRobustChannel
from aiormq import spec
from aiormq.abc import DeliveredMessage

from queuelab.backends.base import Delivery, LeaseLost, wake_oldest
from queuelab.core.task import Task, UndecodableTask

from .link import Link, is_trouble
from .wire import REDELIVERIES

if TYPE_CHECKING:
    from collections.abc import Callable

_MISSING = object()
_RECHECK = 1.0  # a waiting claimer looks at the connection this often (after a drop)


class Held:
    """A message this handle holds (buffered, then leased); the receipt of its Delivery."""

    __slots__ = (
        "body",
        "channel",
        "extra",
        "generation",
        "message_id",
        "owner",
        "priority",
        "redelivered",
        "seq",
        "settling",
        "tag",
        "task",
        "until",
    )

    def __init__(
        self,
        owner: Consumer,
        channel: aiormq.abc.AbstractChannel,
        tag: int,
        message_id: str,
        redelivered: bool,
        priority: int,
        body: bytes,
        seq: int,
    ) -> None:
        self.owner = owner
        self.channel = channel
        self.tag = tag
        self.message_id = message_id
        self.redelivered = redelivered
        self.priority = priority
        self.body = body
        self.seq = seq
        self.task: Task | None = None  # decoded once, on peek or claim
        self.extra = 0  # attempts since publish beyond the JSON, this claim included
        self.until = 0.0  # lease deadline, wall clock
        self.settling = False  # an ack/nack/dead-letter is under way
        self.generation = owner.generation  # the subscription it came through

    def decode(self) -> Task:
        if self.task is None:
            self.task = Task.from_json(self.body)
        return self.task

    def known_extra(self) -> int:
        """Attempts to remember for this message if it goes back unclaimed."""
        if not self.redelivered:
            return 0
        return REDELIVERIES.extra.get(self.message_id, 1)


class Consumer:
    """Buffer, leases and waiting claimers of one handle's consuming channel."""

    def __init__(
        self,
        link: Link,
        robust: AbstractRobustChannel,
        queue_name: str,
        barrier_exchange: str,
        prefetch: int,
        priority: bool,
        lost: Callable[[Held], LeaseLost],
    ) -> None:
        self._link = link
        self._robust = robust
        self._queue = queue_name
        self._barrier_exchange = barrier_exchange
        self.prefetch = prefetch
        self._priority = priority
        self._lost = lost
        self._buffer: Any = [] if priority else deque()
        self.leased: dict[Held, None] = {}  # in claim order
        self.generation = 0  # bumped by every re-subscription
        self._outside = 0  # leases from earlier subscriptions: outside the prefetch window
        self._deadlines: list[tuple[float, int, Held]] = []  # heap; stale entries skipped
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._seq = itertools.count()
        self._tags = itertools.count(1)
        self._tag = ""
        self._consuming_on: aiormq.abc.AbstractChannel | None = None
        self._consume_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self.active = False  # subscribed at least once (a handle that never claims never is)
        self.received = 0  # deliveries so far: a count is exact only while none arrives

    @property
    def link(self) -> Link:
        return self._link

    # --- counts -------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def room(self) -> bool:
        return len(self._buffer) + len(self.leased) - self._outside < self.prefetch

    def reachable(self) -> bool:
        """Whether a round trip can be tried now (False during an outage: claims then wait
        for work instead of for the connection)."""
        ch = self._consuming_on
        if ch is not None and not ch.is_closed:
            return True
        connection = self._link.connection
        return connection is not None and connection.connected.is_set()

    # --- subscribing ----------------------------------------------------------------------
    async def ensure(self) -> aiormq.abc.AbstractChannel:
        """The consuming channel, subscribed; after a drop, waits for the reconnection."""
        ch = self._consuming_on
        if ch is not None and not ch.is_closed:
            return ch
        async with self._consume_lock:
            ch = await self._link.rpc_channel(self._robust)
            if ch is self._consuming_on:
                return ch
            self.void()
            await self._subscribe(ch)
            self.active = True
            return ch

    async def _subscribe(self, ch: aiormq.abc.AbstractChannel) -> None:
        # set through the robust channel: it is restored with the channel after a drop
        await self._robust.set_qos(prefetch_count=self.prefetch)
        self._tag = f"queuelab.{self._queue}.{id(self):x}.{next(self._tags)}"
        self.generation += 1
        self._outside = len(self.leased)
        await ch.basic_consume(self._queue, self._on_message,  # type: ignore[arg-type]
                               consumer_tag=self._tag)  # aiormq wraps a plain callback
        self._consuming_on = ch

    async def set_prefetch(self, n: int) -> None:
        self.prefetch = n
        async with self._consume_lock:
            ch = self._consuming_on
            if ch is None or ch.is_closed:
                return  # the next subscription uses it
            await self._unsubscribe(ch)
            await self._subscribe(ch)

    async def _unsubscribe(self, ch: aiormq.abc.AbstractChannel) -> None:
        """Cancel the consumer and give its prefetched, unclaimed tasks back to the queue
        (at their place: RabbitMQ requeues at the original position where it can)."""
        with contextlib.suppress(Exception):
            await ch.basic_cancel(self._tag)  # deliveries sent before cancel-ok ...
        await asyncio.sleep(0)  # ... are in the buffer once their callbacks ran
        for held in self._drain_buffer():
            REDELIVERIES.gave_back(held.message_id, held.known_extra())
            with contextlib.suppress(Exception):
                await ch.basic_reject(held.tag, requeue=True, wait=False)

    async def on_reopen(self) -> None:
        """After a reconnection: subscribe again at once, so waiting claimers get work."""
        if not self.active:
            return
        try:
            await self.ensure()
        except Exception as exc:  # the next claim tries again
            if not is_trouble(exc):
                raise
        self._wake(len(self._waiters))

    async def stop(self) -> None:
        """Cancel the subscription and give back what was only buffered (clean close)."""
        ch = self._consuming_on
        self._consuming_on = None
        self._cancel_timer()
        if ch is None or ch.is_closed:
            self.void()
            return
        await self._unsubscribe(ch)
        for held in self._unlease_all():  # the channel's close will requeue these
            REDELIVERIES.gave_back(held.message_id, held.extra)

    def void(self) -> None:
        """Forget deliveries of closed channels: the broker has requeued them."""
        if self._buffer and any(h.channel.is_closed for h in self._held_buffered()):
            keep = []
            for held in self._drain_buffer():
                if held.channel.is_closed:
                    REDELIVERIES.gave_back(held.message_id, held.known_extra())
                else:
                    keep.append(held)
            for held in keep:
                self._push(held)
        for held in [h for h in self.leased if h.channel.is_closed]:
            self._unlease(held)
            REDELIVERIES.gave_back(held.message_id, held.extra)

    def _held_buffered(self) -> list[Held]:
        return [e[2] for e in self._buffer] if self._priority else list(self._buffer)

    def _unlease(self, held: Held) -> bool:
        """Take a delivery out of the leases (False if it was not leased)."""
        if self.leased.pop(held, _MISSING) is _MISSING:
            return False
        if held.generation != self.generation:
            self._outside -= 1
        return True

    def _unlease_all(self) -> list[Held]:
        held = list(self.leased)
        self.leased.clear()
        self._outside = 0
        return held

    def _drain_buffer(self) -> list[Held]:
        items = self._held_buffered()
        self._buffer.clear()
        return items

    # --- deliveries -----------------------------------------------------------------------
    def _on_message(self, message: DeliveredMessage) -> None:
        self.received += 1
        delivery = message.delivery
        assert isinstance(delivery, spec.Basic.Deliver) and delivery.delivery_tag is not None
        props = message.header.properties
        held = Held(
            self,
            message.channel,
            delivery.delivery_tag,
            props.message_id or "",
            bool(delivery.redelivered),
            props.priority or 0,
            message.body,
            next(self._seq),
        )
        if REDELIVERIES.is_duplicate(held.message_id, held.redelivered):
            self._spawn(message.channel.basic_ack(held.tag, wait=False))
            return
        self._push(held)
        if self._waiters:
            self._wake(1)

    def _push(self, held: Held) -> None:
        if self._priority:
            heappush(self._buffer, (-held.priority, held.seq, held))
        else:
            self._buffer.append(held)

    def _pop(self) -> Held:
        return heappop(self._buffer)[2] if self._priority else self._buffer.popleft()

    async def sync(self) -> int:
        """Bring into the buffer every delivery the broker has made to us so far, including
        those its last acks from us triggered; returns the queue's ready count.

        Two round trips on the consuming channel. queue.declare (passive) asks the queue
        process; its answer may overtake the deliveries made before it on the wire (the
        channel process answers a call before relaying what arrived meanwhile), so a
        passive exchange declare - answered by the channel process alone, after everything
        queued before it - follows as the barrier. aiormq dispatches deliveries before the
        reply that follows them; the sleep lets their callbacks run. Nothing is taken past
        the prefetch window (basic.get would).

        The ready count is not ordered after our acks: the queue process takes the count
        request (priority 7 in its mailbox) before acks still waiting there (priority 4),
        then delivers what those acks let through - counted ready, and buffered here by the
        barrier. A count that must be exact repeats until no delivery came meanwhile
        (`AmqpQueue.counts`); a claim only needs what was delivered.
        """
        ch = await self.ensure()
        ok = await ch.queue_declare(self._queue, passive=True)
        await self.barrier(ch)
        return int(ok.message_count or 0)

    async def barrier(self, ch: aiormq.abc.AbstractChannel | None = None) -> None:
        """Return once every delivery this channel was sent so far is in the buffer."""
        ch = ch or self._consuming_on
        if ch is None or ch.is_closed:
            return
        await ch.exchange_declare(self._barrier_exchange, passive=True)
        await asyncio.sleep(0)

    # --- claiming -------------------------------------------------------------------------
    def take(self, max_tasks: int, lease: float) -> list[Delivery]:
        """Lease up to `max_tasks` buffered messages (no round trip)."""
        out: list[Delivery] = []
        until = time.time() + lease
        leased = self.leased
        while self._buffer and len(out) < max_tasks:
            held = self._pop()
            if held.channel.is_closed:
                REDELIVERIES.gave_back(held.message_id, held.known_extra())
                continue
            try:
                task = held.decode()
            except UndecodableTask:
                # not a task: the broker dead-letters it (the main queue's DLX), for a person;
                # the dead-letter listing shows it as an UndecodableTask (wire.decode_dead)
                self._spawn(held.channel.basic_reject(held.tag, requeue=False, wait=False))
                continue
            extra = REDELIVERIES.extra_on_redelivery(held.message_id) if held.redelivered else 0
            task.attempts += extra + 1
            held.extra = extra + 1
            held.until = until
            leased[held] = None
            heappush(self._deadlines, (until, held.seq, held))
            out.append(Delivery(task, held, until))
        if out:
            self._arm_timer()
        return out

    def peek(self, n: int) -> list[Task]:
        """The next `n` buffered tasks in claim order, decoded but not claimed."""
        if self._priority:
            items = [e[2] for e in nsmallest(n, self._buffer)]
        else:
            items = list(islice(self._buffer, n))
        out = []
        for held in items:
            try:
                out.append(Task.from_json(held.body))
            except UndecodableTask:
                continue
        return out

    async def wait(self, deadline: float | None) -> None:
        """Sleep until a delivery arrives, `deadline` (loop time) passes, or a recheck is due."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(fut)
        until = loop.time() + _RECHECK
        if deadline is not None:
            until = min(until, deadline)
        handle = loop.call_at(until, _time_up, fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result() and self._buffer:
                self._wake(1)  # woken, then cancelled: pass the wake-up on
            raise
        finally:
            handle.cancel()
            if not (fut.done() and not fut.cancelled() and fut.result()):
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)

    def _wake(self, n: int) -> None:
        wake_oldest(self._waiters, n)

    # --- settling ---------------------------------------------------------------------------
    def hold(self, held: Held) -> None:
        """Check a receipt before settling it: live, ours, not being settled already."""
        if held.settling or self.leased.get(held, _MISSING) is _MISSING or held.channel.is_closed:
            raise self._lost(held)
        if held.until <= time.time():
            self._expire(held)
            raise self._lost(held)

    async def ack(self, held: Held) -> None:
        self.hold(held)
        self._unlease(held)
        try:
            await held.channel.basic_ack(held.tag, wait=False)
        except BaseException as exc:
            if not is_trouble(exc):
                raise
            REDELIVERIES.gave_back(held.message_id, held.extra)
            raise self._lost(held) from None
        REDELIVERIES.settle(held.message_id)

    async def finish(self, held: Held) -> None:
        """Ack the original after its replacement was confirmed (nack, dead letter).

        If the channel died meanwhile, the broker will redeliver the original: it is
        remembered as settled, so this process drops it instead of running it twice.
        """
        self._unlease(held)
        held.settling = False
        REDELIVERIES.settle(held.message_id)
        with contextlib.suppress(Exception):
            if not held.channel.is_closed:
                await held.channel.basic_ack(held.tag, wait=False)

    def release(self, held: Held) -> None:
        """A settle failed before anything was published: the lease stands."""
        held.settling = False

    def drop_all(self) -> list[Held]:
        """Everything held, for purge: the caller acks it away."""
        held = self._drain_buffer() + self._unlease_all()
        self._deadlines.clear()
        self._cancel_timer()
        return held

    # --- lease expiry -----------------------------------------------------------------------
    def extend(self, held: Held, lease: float) -> float:
        self.hold(held)
        held.until = time.time() + lease
        heappush(self._deadlines, (held.until, held.seq, held))
        self._arm_timer()
        return held.until

    def _expire(self, held: Held) -> None:
        """The lease ran out: give the message back to the broker; the receipt is void."""
        if not self._unlease(held):
            return
        REDELIVERIES.gave_back(held.message_id, held.extra)
        if not held.channel.is_closed:
            self._spawn(held.channel.basic_reject(held.tag, requeue=True, wait=False))

    def _reap(self) -> None:
        self._timer = None
        now = time.time()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            until, _, held = heappop(heap)
            if held.until == until and not held.settling and held in self.leased:
                self._expire(held)
        self._arm_timer()

    def _arm_timer(self) -> None:
        heap, leased = self._deadlines, self.leased
        while heap and (heap[0][2] not in leased or heap[0][2].until != heap[0][0]):
            heappop(heap)
        if len(heap) > 2 * len(leased) + 1024:  # lazy deletion's bill
            self._deadlines = heap = [e for e in heap if e[2] in leased and e[2].until == e[0]]
            heap.sort()
        if not heap:
            self._cancel_timer()
            return
        due = heap[0][0]
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, due - time.time()) + 0.001
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        # the deadline is kept beside the handle: qasync's call_at returns a plain Handle
        # without TimerHandle.when()
        self._timer = loop.call_at(at, self._reap)
        self._timer_at = at

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _spawn(self, coro: Any) -> None:
        """Run a fire-and-forget broker call; failures mean the channel is gone (void)."""
        task = asyncio.ensure_future(_ignore_trouble(coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _ignore_trouble(coro: Any) -> None:
    try:
        await coro
    except BaseException as exc:
        if not is_trouble(exc):
            raise


def _time_up(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)
