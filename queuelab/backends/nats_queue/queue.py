"""`NatsQueue`: the TaskQueue on NATS JetStream (see the package docstring for the mapping).

Per QueueLab queue `Q`: the work-queue stream `QL_Q` (subject `ql.Q.w.t`, or `ql.Q.w.p0`..`p9`
for priority) with one durable pull consumer per subject (explicit ack, AckWait, MaxDeliver),
and the dead-letter stream `QL_Q_DEAD` (subject `ql.Q.dead`, and the MaxDeliver advisories
of `QL_Q`'s consumers). Pulls are requests to `$JS.API.CONSUMER.MSG.NEXT` on an inbox of
their own, so any number of workers pull at once.

Attempts = the body's count + JetStream's delivery count (less the early deliveries of a
delayed task, which are only handed back). Leases: AckWait is the consumer's; a claim's own
lease is kept by in-progress acks from a heartbeat while its holder lives, so a dead worker's
task returns AckWait after its last heartbeat. Receipts are judged here first (settled,
lease over, purged): a late ack would otherwise remove the task another worker holds now.

Every logical publish carries a `Nats-Msg-Id` kept across its retries (`_publish`): a retry
after a PubAck lost in a reconnection is dropped by the stream's duplicate window instead of
storing the task twice; the streams' window is made to cover `reconnect_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from queuelab.backends.base import (
    BackendError,
    Delivery,
    LeaseLost,
    QueueCounts,
    TaskQueue,
    lease_lost_many,
)
from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from .options import NatsOptions

_DUE = "QL-Due"  # header: wall-clock second a delayed task is due
_EARLY = 0.01  # s: a delayed task delivered this close to its due time is handed out
_EMPTY_LOOK = 0.5  # s a subject found empty is skipped by claims (unless that finds none)
#: s: a waiting pull does not expire this close to a delayed task's due time (`_clear_of_dues`)
_EXPIRY_GUARD = 0.1
_MSG_ID = "Nats-Msg-Id"  # header: JetStream drops a second message with it within the window
_PUBLISH_TIMEOUT = 2.0  # s one publish waits for its PubAck
_RETRY_PAUSE = 0.25  # s between tries of a publish
#: s: JetStream's own duplicate window, kept when it covers the retries (`_duplicate_window`)
_DEFAULT_WINDOW = 120.0


class _MsgIds:
    """Unique message ids, cheaply: a random prefix per process (drawn anew in a forked
    child, which would otherwise repeat its parent's ids) and a counter."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = os.urandom(9).hex() + "-"
        self.counter = itertools.count()

    def next(self) -> str:
        return self.prefix + str(next(self.counter))


_IDS = _MsgIds()


@dataclass(slots=True, eq=False)
class NatsReceipt:
    reply: str  # the delivery's ack subject
    seq: int  # stream sequence
    generation: int
    held: bool = True
    delivered: int = 1  # the delivery's num_delivered: `reply` is the newest delivery's


@dataclass(eq=False)
class _Shared:
    """What the handles of one queue in this process share."""

    generation: int = 0
    delayed: dict[int, list[Any]] = field(default_factory=dict)  # seq -> [due, handed back]
    early: dict[int, int] = field(default_factory=dict)  # seq -> early deliveries handed back
    held: dict[int, NatsReceipt] = field(default_factory=dict)  # leased by this process
    settled: set[int] = field(default_factory=set)  # seqs this process settled lately
    settled_at: deque[tuple[float, int]] = field(default_factory=deque)  # oldest first
    empty_at: dict[str, float] = field(default_factory=dict)
    doubtful_until: float = 0.0  # wall time until which counts may be off (`_reconnected`)


#: settled seqs remembered (`_Shared.settled`): for AckWait × this, and this many at most
_SETTLED_MEMORY = 4
_SETTLED_CAP = 200_000

_AFTER_RECONNECTION = ("the connection was cut a moment ago: a task the server sent while it "
                       "was down is counted twice until its lease or retry delay ends")

_SHARED: dict[tuple[str, str], _Shared] = {}


class NatsQueue(TaskQueue):
    """A QueueLab queue on JetStream; see the module and package docstrings."""

    #: JetStream applies acks asynchronously, and they are sent without waiting for the
    #: server's answer (to keep the claim-ack rate): counts may trail them for a moment
    counts_lag = 2.0

    def __init__(self, server: str, shown_url: str, options: NatsOptions) -> None:
        self.url = shown_url
        self.options = options
        self.discipline = options.discipline
        self._server = server
        q = options.queue
        self.stream, self.dead_stream = f"QL_{q}", f"QL_{q}_DEAD"
        self.dead_subject = f"ql.{q}.dead"
        self.advisories = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.stream}.*"
        if options.priority:  # highest first
            self.subjects = [f"ql.{q}.w.p{level}" for level in reversed(range(options.levels))]
        else:
            self.subjects = [f"ql.{q}.w.t"]
        self._shared = _SHARED.setdefault((server, q), _Shared())
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._opening: asyncio.Lock | None = None
        self._leases: dict[int, tuple[Delivery, NatsReceipt]] = {}  # id(delivery) -> held
        self._beat: asyncio.Task[None] | None = None
        self._hot = 0
        self.reconnects = 0

    # --- life cycle ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._nc is not None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._nc is None:
                await self._connect()

    async def _connect(self) -> None:
        async def reconnected() -> None:
            self.reconnects += 1
            self._reconnected()

        async def quiet(_: Exception) -> None:  # nats-py logs every error otherwise
            return None

        try:  # nats-py would try a server that never answers forever: bounded here
            nc = await asyncio.wait_for(
                nats.connect(
                    servers=[self._server],
                    connect_timeout=self.options.connect_timeout,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    allow_reconnect=True,
                    reconnected_cb=reconnected,
                    error_cb=quiet,
                ),
                self.options.connect_timeout + 1.0,
            )
        except Exception as exc:  # nats-py raises several kinds for "cannot connect"
            raise BackendError(
                f"{self.url}: cannot reach the NATS server ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})"
            ) from None
        try:
            js = nc.jetstream(timeout=max(2.0, self.options.connect_timeout))
            await self._declare(js)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
        self._beat = asyncio.create_task(self._heartbeat())

    async def _declare(self, js: JetStreamContext) -> None:
        """Streams and consumers, created on first use (an existing one is used as it is)."""
        window = self._duplicate_window()
        try:
            await self._add_stream(js, StreamConfig(
                name=self.stream, subjects=[f"ql.{self.options.queue}.w.*"],
                retention=RetentionPolicy.WORK_QUEUE, duplicate_window=window,
            ))  # fmt: skip
            await self._add_stream(js, StreamConfig(
                name=self.dead_stream, subjects=[self.dead_subject, self.advisories],
                duplicate_window=window,
            ))  # fmt: skip
            for subject in self.subjects:
                await js.add_consumer(self.stream, ConsumerConfig(
                    durable_name=self._consumer(subject), filter_subject=subject,
                    ack_policy=AckPolicy.EXPLICIT, ack_wait=self.options.ack_wait,
                    max_deliver=self.options.max_deliver, max_ack_pending=100_000,
                ))  # fmt: skip
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(
                f"{self.url}: JetStream refused to set up the queue: {exc}"
            ) from None

    def _duplicate_window(self) -> float:
        """Seconds the streams remember message ids: from a publish's first try to its
        last (`reconnect_timeout`, then one more try), and never less than JetStream's own."""
        last_try = self.options.reconnect_timeout + _RETRY_PAUSE + _PUBLISH_TIMEOUT
        return max(_DEFAULT_WINDOW, last_try + _PUBLISH_TIMEOUT)

    async def _add_stream(self, js: JetStreamContext, config: StreamConfig) -> None:
        """An existing stream is used as it is, except that a duplicate window too short
        for this handle's retries is widened (only ever widened: another process may
        retry for longer)."""
        try:
            info = await js.stream_info(str(config.name))
        except NotFoundError:
            try:
                await js.add_stream(config)
                return
            except BadRequestError:  # made meanwhile by another process, maybe otherwise
                info = await js.stream_info(str(config.name))
        wanted = float(config.duplicate_window or 0)
        if float(info.config.duplicate_window or 0) < wanted:
            await js.update_stream(replace(info.config, duplicate_window=wanted))

    def _consumer(self, subject: str) -> str:
        return "c_" + subject.rsplit(".", 1)[1]

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        if nc is not None:
            await nc.close()
        self._leases.clear()

    async def _ready(self) -> tuple[Client, JetStreamContext]:
        if self._nc is None:
            await self.open()
        assert self._nc is not None and self._js is not None
        return self._nc, self._js

    def _reconnected(self) -> None:
        """Counts are in doubt for a while after a reconnection.

        A message the server delivered to a pull while the connection was down went
        nowhere: the server counts it as unacknowledged until AckWait ends, while this
        process, which never saw it, may still count it as delayed until it is due. Until
        both have passed, `counts` says it is approximate."""
        now = time.time()
        last_due = max((due for due, _ in self._shared.delayed.values()), default=now)
        until = max(now, last_due) + self.options.ack_wait
        self._shared.doubtful_until = max(self._shared.doubtful_until, until)

    def _forget_settled(self) -> None:
        """Settled seqs older than a few AckWaits (or past the cap) are forgotten: a lost
        ack's redelivery comes one AckWait after it."""
        shared = self._shared
        horizon = time.monotonic() - self.options.ack_wait * _SETTLED_MEMORY
        order = shared.settled_at
        while order and (order[0][0] < horizon or len(order) > _SETTLED_CAP):
            shared.settled.discard(order.popleft()[1])

    async def _heartbeat(self) -> None:
        """In-progress acks for held deliveries whose lease outlasts the consumer's AckWait."""
        every = min(1.0, self.options.ack_wait / 3)
        while True:
            await asyncio.sleep(every)
            self._forget_settled()
            now = time.time()
            for key, (delivery, receipt) in list(self._leases.items()):
                if not receipt.held or delivery.lease_until <= now:
                    del self._leases[key]  # settled, or its lease ran out: no longer held
                    self._shared.held.pop(receipt.seq, None)
                elif delivery.lease_until > now + self.options.ack_wait - every * 1.5:
                    await self._send(receipt.reply, b"+WPI")

    async def _send(self, subject: str, payload: bytes) -> None:
        nc = self._nc
        if nc is not None and not nc.is_closed:
            # buffered while reconnecting; a lost ack only brings the task back after AckWait
            with contextlib.suppress(Exception):
                await nc.publish(subject, payload)

    # --- producing ----------------------------------------------------------------------
    def _subject_of(self, task: Task) -> str:
        if not self.options.priority:
            return self.subjects[0]
        level = min(max(task.priority, 0), self.options.levels - 1)
        return self.subjects[len(self.subjects) - 1 - level]

    async def _publish(self, subject: str, body: bytes, headers: dict[str, str] | None,
                       verb: str, msg_id: str | None = None) -> int:
        """A confirmed publish (JetStream's PubAck), tried again through a reconnection.

        Every try carries the same `Nats-Msg-Id` (`msg_id`, else a fresh one): if an earlier
        try was stored and only its PubAck was lost, the stream drops the retry and answers
        with a duplicate PubAck naming the stored message's seq, which is this publish's."""
        _, js = await self._ready()
        sent = {_MSG_ID: msg_id or _IDS.next()}
        if headers:
            sent.update(headers)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.options.reconnect_timeout
        while True:
            try:
                ack = await js.publish(subject, body, headers=sent, timeout=_PUBLISH_TIMEOUT)
                return int(ack.seq)  # ack.duplicate too: stored once, by an earlier try
            except Exception as exc:
                if loop.time() > give_up or self._nc is None:
                    raise BackendError(f"{self.url}: {verb} failed: {type(exc).__name__}: "
                                       f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
                await asyncio.sleep(_RETRY_PAUSE)

    async def _put(self, task: Task, delay: float, verb: str) -> None:
        headers = None
        due = 0.0
        if delay > 0:
            due = time.time() + delay
            headers = {_DUE: f"{due:.6f}"}
        seq = await self._publish(self._subject_of(task), task.to_json().encode(), headers, verb)
        if headers is not None:
            self._shared.delayed[seq] = [due, False]
        self._shared.empty_at.pop(self._subject_of(task), None)

    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        await self._put(task, delay, "enqueue")

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        """Published in order, up to 256 confirms awaited at once."""
        batch: list[Task] = []
        for task in tasks:
            batch.append(task)
            if len(batch) == 256:
                await self._put_batch(batch)
                batch = []
        if batch:
            await self._put_batch(batch)

    async def _put_batch(self, tasks: list[Task]) -> None:
        if self.options.priority:
            await asyncio.gather(*(self._put(t, 0.0, "enqueue") for t in tasks))
        else:  # one subject: in order, so the stream order is the enqueue order
            for t in tasks:
                await self._put(t, 0.0, "enqueue")

    # --- consuming ----------------------------------------------------------------------
    async def _pull(self, subject: str, n: int, wait: float) -> list[Msg]:
        """Up to `n` messages from the subject's consumer: at once (`wait` 0) or the first
        one to come within `wait` seconds."""
        nc, _ = await self._ready()
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        request: dict[str, Any] = {"batch": n}
        if wait <= 0:
            request["no_wait"] = True
        else:
            request["batch"] = 1
            request["expires"] = int(wait * 1e9)
        got: list[Msg] = []
        try:
            await nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self._consumer(subject)}",
                json.dumps(request).encode(),
                reply=inbox,
            )
            while len(got) < request["batch"]:
                try:
                    msg = await sub.next_msg(timeout=max(wait, 0.0) + 2.0)
                except Exception:  # no answer (a reconnection): none this time
                    break
                if msg.headers and msg.headers.get("Status"):
                    break  # 404 no messages, 408 expired, 409 ...
                got.append(msg)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return got

    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        if max_tasks < 1:
            return []
        await self._ready()
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            got = await self._sweep(lease, max_tasks)
            if got:
                return got
            left = None if end is None else end - loop.time()
            if left is not None and left <= 0:
                return []
            wait = self.options.wait if len(self.subjects) == 1 else min(self.options.wait, 0.2)
            if left is not None:
                wait = min(wait, left)
            msgs = await self._pull(self.subjects[self._hot], 1, self._clear_of_dues(wait))
            got = await self._deliveries(msgs, lease)
            if got:
                if max_tasks > 1:
                    got += await self._sweep(lease, max_tasks - len(got))
                return got

    def _clear_of_dues(self, wait: float) -> float:
        """`wait`, lengthened so that the pull does not expire as a delayed task comes due.

        JetStream (seen on 2.9) can hand a message whose NakWithDelay ends at the moment a
        waiting pull expires to the expired request: the delivery goes nowhere, counts in
        `num_delivered` (an attempt nobody made) and the task waits for a later pull. A
        pull that is still open when the task comes due receives it. (A delayed task not
        yet handed back is in the stream already: any pull takes it at once.)"""
        now = time.time()
        end = now + max(0.05, wait)
        dues = sorted(due for due, back in self._shared.delayed.values()
                      if back and due > end - _EXPIRY_GUARD)  # fmt: skip
        for due in dues:
            if due >= end + _EXPIRY_GUARD:
                break
            end = due + _EXPIRY_GUARD  # open until just after it
        return end - now

    async def _sweep(self, lease: float, want: int) -> list[Delivery]:
        empty_at = self._shared.empty_at
        now = time.monotonic()
        fresh = [s for s in self.subjects if now - empty_at.get(s, -_EMPTY_LOOK) >= _EMPTY_LOOK]
        got = await self._take(fresh, lease, want)
        if not got and len(fresh) < len(self.subjects):
            got = await self._take([s for s in self.subjects if s not in fresh], lease, want)
        return got

    async def _take(self, subjects: list[str], lease: float, want: int) -> list[Delivery]:
        got: list[Delivery] = []
        for subject in subjects:
            while len(got) < want:
                ask = want - len(got)
                msgs = await self._pull(subject, ask, 0.0)
                if msgs:
                    self._hot = self.subjects.index(subject)
                got += await self._deliveries(msgs, lease)
                if len(msgs) < ask:
                    if msgs:
                        self._shared.empty_at.pop(subject, None)
                    else:
                        self._shared.empty_at[subject] = time.monotonic()
                    break
            if len(got) >= want:
                break
        return got

    async def _deliveries(self, msgs: list[Msg], lease: float) -> list[Delivery]:
        shared = self._shared
        now = time.time()
        out: list[Delivery] = []
        for msg in msgs:
            meta = msg.metadata
            seq = int(meta.sequence.stream)
            if seq in shared.settled:  # settled here, its ack lost in a reconnection
                await self._send(msg.reply, b"+ACK")
                continue
            holder = shared.held.get(seq)
            if holder is not None:  # held here: a pull answered late (after a reconnection)
                if int(meta.num_delivered) > holder.delivered:  # the holder acks the newest
                    holder.reply, holder.delivered = msg.reply, int(meta.num_delivered)
                continue
            due_text = (msg.headers or {}).get(_DUE)
            if due_text is not None:
                left = float(due_text) - now
                if left > _EARLY:  # delivered before its time: back until it is due
                    await self._send(msg.reply, b"-NAK " + json.dumps(
                        {"delay": int(left * 1e9)}).encode())  # fmt: skip
                    shared.delayed[seq] = [float(due_text), True]
                    shared.early[seq] = shared.early.get(seq, 0) + 1
                    continue
            shared.delayed.pop(seq, None)
            try:
                task = Task.from_json(msg.data)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                await self._bury_foreign(msg, exc)
                continue
            task.attempts += max(1, int(meta.num_delivered) - shared.early.pop(seq, 0))
            receipt = NatsReceipt(msg.reply, seq, shared.generation, True,
                                  int(meta.num_delivered))
            delivery = Delivery(task, receipt, now + lease)
            shared.held[seq] = receipt
            self._leases[id(delivery)] = (delivery, receipt)
            out.append(delivery)
        return out

    async def _bury_foreign(self, msg: Msg, exc: Exception) -> None:
        dead = DeadLetter(
            Task(id=f"nats:{msg.metadata.sequence.stream}",
                 payload=msg.data.decode("utf-8", errors="replace")[:10_000]),
            "UndecodableMessage", f"{type(exc).__name__}: {exc}", 0.0,
        )  # fmt: skip
        # one id per message: its redelivery (this ack lost) is not buried twice
        await self._publish(self.dead_subject, _encode_dead(dead), None, "dead-letter",
                            f"{self.stream}.foreign.{msg.metadata.sequence.stream}")
        await self._send(msg.reply, b"+ACK")

    def _held(self, delivery: Delivery, verb: str) -> NatsReceipt:
        r = delivery.receipt
        if not isinstance(r, NatsReceipt):
            raise LeaseLost(f"{self.url}: not a receipt of this queue ({verb})")
        if not r.held or r.generation != self._shared.generation:
            raise LeaseLost(f"{self.url}: the receipt is void ({verb}: settled or purged)")
        if time.time() >= delivery.lease_until:
            raise LeaseLost(f"{self.url}: the lease ran out before {verb}")
        return r

    def _settle(self, delivery: Delivery, r: NatsReceipt) -> None:
        """The delivery is done with here; its seq is remembered for a while, so that the
        server's redelivery of it (its ack lost in a reconnection: acks are sent without
        waiting for an answer) is acked again instead of running the task twice."""
        r.held = False
        shared = self._shared
        shared.held.pop(r.seq, None)
        shared.settled.add(r.seq)
        shared.settled_at.append((time.monotonic(), r.seq))
        self._leases.pop(id(delivery), None)

    async def ack(self, delivery: Delivery) -> None:
        r = self._held(delivery, "ack")
        await self._ready()
        self._settle(delivery, r)
        await self._send(r.reply, b"+ACK")

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        await self._ready()
        void = 0
        for d in deliveries:
            try:
                r = self._held(d, "ack")
            except LeaseLost:
                void += 1
                continue
            self._settle(d, r)
            await self._send(r.reply, b"+ACK")
        if void:
            raise lease_lost_many(void, len(deliveries), self.url)

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Publish the task as it is now (a message cannot change), then ack the claimed one:
        a crash in between leaves a duplicate, never a loss. A delay travels as a header; a
        delivery before it is due is handed back with NakWithDelay for the rest."""
        r = self._held(delivery, "nack")
        await self._put(delivery.task, delay, "nack")
        self._settle(delivery, r)
        await self._send(r.reply, b"+ACK")

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str,
                          at: float) -> None:
        r = self._held(delivery, "dead-letter")
        dead = DeadLetter(delivery.task, error_kind, error, at)
        await self._publish(self.dead_subject, _encode_dead(dead), None, "dead-letter")
        self._settle(delivery, r)
        await self._send(r.reply, b"+ACK")

    async def extend(self, delivery: Delivery, lease: float) -> None:
        r = self._held(delivery, "extend")
        await self._ready()
        await self._send(r.reply, b"+WPI")
        delivery.lease_until = time.time() + lease
        self._leases[id(delivery)] = (delivery, r)

    # --- looking ------------------------------------------------------------------------
    async def counts(self) -> QueueCounts:
        """JetStream's counts per consumer, split by what this process knows of delays:
        JetStream does not tell a task handed back with a delay from a held one."""
        _, js = await self._ready()
        await self._collect_max_deliveries()
        infos = await asyncio.gather(
            *(js.consumer_info(self.stream, self._consumer(s)) for s in self.subjects)
        )
        pending = sum(int(i.num_pending or 0) for i in infos)
        unacked = sum(int(i.num_ack_pending or 0) for i in infos)
        now = time.time()
        delayed = self._shared.delayed
        waiting_early = sum(1 for due, back in delayed.values() if not back and due > now)
        back_due = sum(1 for due, back in delayed.values() if back and due <= now)
        back_all = sum(1 for _, back in delayed.values() if back)
        dead = await self._dead_count(js)
        doubtful = now < self._shared.doubtful_until
        return QueueCounts(
            ready=pending - waiting_early + back_due,
            delayed=sum(1 for due, _ in delayed.values() if due > now),
            leased=max(0, unacked - back_all),
            dead=dead,
            approximate=doubtful,
            reason=_AFTER_RECONNECTION if doubtful else "",
        )

    async def peek(self, n: int = 1) -> list[Task]:
        """Stream messages in claim order, read by sequence (no delivery), less those this
        process holds and those not yet due."""
        _, js = await self._ready()
        out: list[Task] = []
        now = time.time()
        floors = await asyncio.gather(
            *(js.consumer_info(self.stream, self._consumer(s)) for s in self.subjects)
        )
        for subject, info in zip(self.subjects, floors, strict=True):
            seq = int(info.ack_floor.stream_seq if info.ack_floor else 0) + 1
            while len(out) < n:
                try:
                    raw = await js.get_msg(self.stream, seq=seq, subject=subject, next=True)
                except NotFoundError:
                    break
                seq = int(raw.seq or seq) + 1
                if raw.seq in self._shared.held:
                    continue
                due = (raw.headers or {}).get(_DUE)
                if due is not None and float(due) > now + _EARLY:
                    continue
                try:
                    out.append(Task.from_json(raw.data or b""))
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
            if len(out) >= n:
                break
        return out

    # --- dead letters -------------------------------------------------------------------
    async def _collect_max_deliveries(self) -> None:
        """Turn the MaxDeliver advisories the dead-letter stream caught into dead letters:
        the message JetStream gave up on is moved there, with why."""
        _, js = await self._ready()
        seq = 1
        while True:
            try:
                raw = await js.get_msg(self.dead_stream, seq=seq, subject=self.advisories,
                                       next=True)
            except NotFoundError:
                return
            seq = int(raw.seq or seq) + 1
            try:
                advisory = json.loads(raw.data or b"{}")
                original = await js.get_msg(self.stream, seq=int(advisory["stream_seq"]))
                task = Task.from_json(original.data or b"")
                task.attempts += int(advisory.get("deliveries", 0))
                dead = DeadLetter(task, "MaxDeliver",
                                  f"JetStream gave up after {advisory.get('deliveries')} "
                                  "deliveries without an ack", 0.0)
                # one id per advisory: two processes collecting it at once store it once
                await self._publish(self.dead_subject, _encode_dead(dead), None, "dead-letter",
                                    f"{self.stream}.max-deliver.{advisory['stream_seq']}")
                await js.delete_msg(self.stream, int(advisory["stream_seq"]))
            except NotFoundError:
                pass  # acked or purged meanwhile
            except (ValueError, KeyError, TypeError):
                pass
            await js.delete_msg(self.dead_stream, int(raw.seq or 0))

    async def _dead_count(self, js: JetStreamContext) -> int:
        info = await js.stream_info(self.dead_stream, subjects_filter=self.dead_subject)
        subjects = info.state.subjects or {}
        return int(subjects.get(self.dead_subject, 0))

    async def _dead_messages(self) -> list[tuple[int, DeadLetter]]:
        _, js = await self._ready()
        await self._collect_max_deliveries()
        out: list[tuple[int, DeadLetter]] = []
        seq = 1
        while True:
            try:
                raw = await js.get_msg(self.dead_stream, seq=seq, subject=self.dead_subject,
                                       next=True)
            except NotFoundError:
                return out
            seq = int(raw.seq or seq) + 1
            out.append((int(raw.seq or 0), _decode_dead(raw.data or b"", int(raw.seq or 0))))

    async def dead_letters(self, query: DeadLetterQuery | None = None) -> DeadLetterPage:
        dead = sorted((d for _, d in await self._dead_messages()),
                      key=lambda d: d.dead_lettered_at)
        return page_of(dead, query or DeadLetterQuery())

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        found = [d for _, d in await self._dead_messages() if d.task.id == task_id]
        return max(found, key=lambda d: d.dead_lettered_at) if found else None

    async def _remove(self, task_ids: Sequence[str], back: bool, reset: bool) -> int:
        _, js = await self._ready()
        wanted = set(task_ids)
        by_id: dict[str, list[tuple[int, DeadLetter]]] = {}
        for seq, dead in await self._dead_messages():
            if dead.task.id in wanted:
                by_id.setdefault(dead.task.id, []).append((seq, dead))
        for entries in by_id.values():
            if back:
                task = max(entries, key=lambda e: e[1].dead_lettered_at)[1].task
                if reset:
                    task.attempts = 0
                await self._put(task, 0.0, "reprocess")
            for seq, _ in entries:
                with contextlib.suppress(NotFoundError):
                    await js.delete_msg(self.dead_stream, seq)
        return len(by_id)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Publish each task back, then delete its dead letter: a crash in between leaves it
        both back and dead (at-least-once)."""
        return await self._remove(task_ids, True, reset_attempts)

    async def discard(self, task_ids: Sequence[str]) -> int:
        return await self._remove(task_ids, False, False)

    # --- tests and tools ----------------------------------------------------------------
    async def purge(self) -> None:
        _, js = await self._ready()
        shared = self._shared
        shared.generation += 1
        shared.delayed.clear()
        shared.early.clear()
        shared.held.clear()
        shared.settled.clear()
        shared.settled_at.clear()
        self._leases.clear()
        await js.purge_stream(self.stream)
        await js.purge_stream(self.dead_stream)

    async def destroy(self) -> None:
        """Delete the queue's streams (and so its consumers): tests, a person's tools."""
        _, js = await self._ready()
        for name in (self.stream, self.dead_stream):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
        _SHARED.pop((self._server, self.options.queue), None)


def _encode_dead(dead: DeadLetter) -> bytes:
    return json.dumps(dead.to_dict(), separators=(",", ":"), allow_nan=False).encode()


def _decode_dead(body: bytes, seq: int) -> DeadLetter:
    try:
        return DeadLetter.from_dict(json.loads(body))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        task = Task(id=f"nats-dead:{seq}", payload=body.decode("utf-8", errors="replace")[:10_000])
        return DeadLetter(task, "UndecodableMessage", f"{type(exc).__name__}: {exc}", 0.0)
