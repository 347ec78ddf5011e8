"""The dead-letter queue, read into this process so it can be listed, paged and searched.

RabbitMQ cannot query a queue: the only reads are consume and basic.get, and a message read
is held until acked or given back. So the store consumes `queuelab.<q>.dead` on a channel of
its own with no prefetch limit and acks nothing until a person decides. Every dead letter is
then held (unacked) here and indexed by task id; listing, paging and filtering run in memory
(`page_of`, like the memory backend). Before each use a round trip through the queue and a
channel-local barrier make sure dead letters published a moment ago are in the index.

Reprocess and discard are AMQP transactions on that channel (tx.select): publish the task to
the main queue and ack its DLQ message, then tx.commit. RabbitMQ applies a transaction's
publishes and acks together at commit, and throws away an uncommitted one when the channel
closes (the DLQ message is then requeued), so a task whose move is interrupted - this
process dies, the connection drops - is still a dead letter or back in the queue, never both,
never neither. (RabbitMQ documents tx as batching rather than ACID: only a broker crash in
the middle of a commit can break that.) Publisher confirms could not give this: confirm, then
ack, leaves a window where a crash makes a duplicate.

Limits, by design: while this process holds the dead letters, other processes see none of
them (the broker counts them as unacked, and AMQP exposes no unacked count); they are given
back when the store closes. RabbitMQ's consumer_timeout (30 min by default) also closes a
channel that holds deliveries that long: the store notices the closed channel and reads the
queue again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiormq
from aio_pika.abc import AbstractRobustChannel
from aiormq import spec
from aiormq.abc import ChannelFrame, DeliveredMessage
from aiormq.exceptions import ChannelNotFoundEntity
from pamqp.base import Frame as PamqpFrame
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from queuelab.backends.base import BackendError
from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from .link import Link, is_trouble, retry_read
from .topology import Names
from .wire import decode_dead, new_message_id, task_properties

Channel = aiormq.abc.AbstractChannel
Frame = PamqpFrame | ContentHeader | ContentBody
T = TypeVar("T")

#: s a listing waits for the dead-letter queue to stream in (see DeadLetterStore.sync): in
#: all, and without a new delivery
LOAD_TIMEOUT = 300.0
STALL_TIMEOUT = 5.0


@dataclass(slots=True)
class _Entry:
    dead: DeadLetter
    channel: Channel
    tag: int


class DeadLetterStore:
    """The dead letters of one queue, held by this process (see the module docstring)."""

    def __init__(self, link: Link, names: Names, priority_of: Callable[[Task], int | None]) -> None:
        self._link = link
        self._names = names
        self._priority_of = priority_of  # Task -> AMQP priority or None
        self._robust: AbstractRobustChannel | None = None
        self._on: Channel | None = None
        self._index: dict[str, list[_Entry]] = {}
        self._lock = asyncio.Lock()
        self._content_size = 131_000  # body bytes per frame, the channel's once known

    @property
    def size(self) -> int:
        """Dead letters held here (the broker counts none of them as ready)."""
        self._forget_closed()
        return len(self._index)

    # --- reading ------------------------------------------------------------------------
    async def _channel(self) -> Channel:
        """The transactional channel consuming the DLQ; set up again after a drop."""
        if self._robust is None:
            self._robust = await self._link.channel(confirms=False)
        ch = await self._link.rpc_channel(self._robust)
        if ch is not self._on:
            self._index.clear()  # held on a closed channel: the broker has them back
            await ch.tx_select()
            await ch.basic_consume(self._names.dead,  # aiormq wraps a plain callback
                                   self._on_message)  # type: ignore[arg-type]
            self._on = ch
        return ch

    def _on_message(self, message: DeliveredMessage) -> None:
        self._add(message.channel, message)

    def _add(self, ch: Channel, message: DeliveredMessage) -> None:
        props = message.header.properties
        dead = decode_dead(message.body, props.message_id, props.headers)
        delivery = message.delivery
        assert isinstance(delivery, spec.Basic.Deliver | spec.Basic.GetOk)
        assert delivery.delivery_tag is not None
        self._index.setdefault(dead.id, []).append(_Entry(dead, ch, delivery.delivery_tag))

    def _forget_closed(self) -> None:
        if self._on is not None and self._on.is_closed:
            self._index.clear()
            self._on = None

    async def sync(self) -> Channel:
        """Subscribe if needed and index every dead letter in the queue (see Consumer.sync:
        a passive queue declare, then the channel-local barrier).

        A fresh subscription receives the queue's messages in a stream, not at once: a
        first listing of 20,000 found 453. So until the broker has none left ready (all
        are delivered here, or held by another process), look again, as long as the
        stream moves: it stops waiting after `STALL_TIMEOUT` without a new delivery, or
        `LOAD_TIMEOUT` in all (a queue filling faster than it streams in).
        """
        self._forget_closed()
        ch = await self._channel()
        loop = asyncio.get_running_loop()
        began = moved = loop.time()
        held = len(self._index)
        while True:
            ok = await ch.queue_declare(self._names.dead, passive=True)
            await self._barrier(ch)
            now = loop.time()
            if len(self._index) != held:
                held, moved = len(self._index), now
            if (
                not ok.message_count
                or now - moved >= STALL_TIMEOUT
                or now - began >= LOAD_TIMEOUT
            ):
                return ch
            await asyncio.sleep(0.01)

    async def _barrier(self, ch: Channel) -> None:
        """Every delivery sent to this channel so far is indexed (see Consumer.barrier)."""
        await ch.exchange_declare(self._names.dead, passive=True)
        await asyncio.sleep(0)

    async def count(self) -> int:
        """Dead letters: those the broker still has ready plus those held here."""
        async with self._lock:

            async def look() -> int:
                self._forget_closed()
                ch = await self._channel()
                ok = await ch.queue_declare(self._names.dead, passive=True)
                await self._barrier(ch)
                return int(ok.message_count or 0) + len(self._index)

            return await self._retrying(look)

    async def page(self, query: DeadLetterQuery) -> DeadLetterPage:
        async with self._lock:
            await self._retrying(self.sync)
            dead = [e[0].dead for e in self._index.values()]
        return page_of(dead, query)

    async def get(self, task_id: str) -> DeadLetter | None:
        async with self._lock:
            await self._retrying(self.sync)
            entries = self._index.get(task_id)
        return entries[0].dead if entries else None

    # --- moving -------------------------------------------------------------------------
    async def reprocess(self, task_ids: Sequence[str], reset_attempts: bool) -> int:
        names = self._names

        def move(entries: list[_Entry]) -> list[Frame]:
            task = entries[0].dead.task
            data = task.to_dict()  # a fresh dict: the index keeps its own task
            if reset_attempts:
                data["attempts"] = 0
            body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
            props = task_properties(new_message_id(), self._priority_of(task))
            return publish_frames(names.main, body, props, self._content_size)

        return await self._transact(task_ids, move, "reprocess")

    async def discard(self, task_ids: Sequence[str]) -> int:
        def nothing(entries: list[_Entry]) -> list[Frame]:
            return []

        return await self._transact(task_ids, nothing, "discard")

    async def _transact(
        self,
        task_ids: Sequence[str],
        action: Callable[[list[_Entry]], list[Frame]],
        verb: str,
    ) -> int:
        """Per task: `action`'s publish frames, then ack its DLQ message(s); one commit.

        Fast and still all-or-nothing: the publishes go out in pipelined chunks of
        `_CHUNK` messages, each chunk one write (not a socket send per frame), the acks
        at the end (`acks`: one `multiple` ack where the acked tags are contiguous), and
        the commit is the one round trip. Nothing is applied before the commit, so a
        drop anywhere leaves every task a dead letter.
        """
        async with self._lock:
            ch = await self._retrying(self.sync)
            self._content_size = int(getattr(ch, "max_content_size", 0) or 0) or 131_000
            done: list[str] = []
            tags: list[int] = []
            try:
                frames: list[Frame] = []
                moved = size = 0
                for task_id in dict.fromkeys(task_ids):
                    entries = self._index.get(task_id)
                    if not entries:
                        continue
                    more = action(entries)
                    frames += more
                    tags += [entry.tag for entry in entries]
                    done.append(task_id)
                    moved += 1
                    size += sum(len(f.value) for f in more if isinstance(f, ContentBody))
                    if moved >= _CHUNK or size >= _CHUNK_BYTES:
                        await _write(ch, frames)
                        frames, moved, size = [], 0, 0
                held = [e.tag for group in self._index.values() for e in group]
                frames += acks(held, tags)
                if frames:
                    await _write(ch, frames)
                if done:
                    # the main queue must still exist, or the moved tasks would be dropped
                    # unroutable: a failed check closes the channel, which discards the
                    # uncommitted transaction, so nothing moves
                    await ch.queue_declare(self._names.main, passive=True)
                    await ch.tx_commit()
            except BaseException as exc:
                if not is_trouble(exc):
                    raise
                self._index.clear()
                if isinstance(exc, ChannelNotFoundEntity):
                    raise BackendError(f"{self._link.shown}: {verb} moved nothing: {exc}") from None
                raise BackendError(
                    f"{self._link.shown}: the connection dropped during {verb}; each task is "
                    "either still a dead letter or moved (a transaction), list again to see"
                ) from None
            for task_id in done:
                del self._index[task_id]
            return len(done)

    async def drop_all(self) -> None:
        """Ack every held dead letter (purge); the caller then purges the DLQ itself."""
        async with self._lock:
            ch = await self._retrying(self.sync)
            held = [e.tag for group in self._index.values() for e in group]
            if held:
                await _write(ch, acks(held, held))
                await ch.tx_commit()
            self._index.clear()

    async def close(self) -> None:
        robust, self._robust = self._robust, None
        self._index.clear()
        self._on = None
        if robust is not None:
            with contextlib.suppress(Exception):
                await robust.close()

    async def _retrying(self, op: Callable[[], Awaitable[T]]) -> T:
        """A read, again after a reconnection; the index of the lost connection is dropped."""
        return await retry_read(self._link, op, "read the dead-letter queue", self._forget)

    def _forget(self) -> None:
        self._index.clear()
        self._on = None


#: messages (or body bytes) per write in a reprocess: one socket send each, not one per
#: frame, and a bounded buffer however large the tasks
_CHUNK = 2000
_CHUNK_BYTES = 4 << 20


def acks(held: Iterable[int], tags: Iterable[int]) -> list[Frame]:
    """Ack frames for delivery `tags` out of all `held` (unacked) on the channel.

    `multiple=True` acks every held tag up to its own, so it covers the longest run of the
    smallest held tags that are all to be acked (reprocess-all: one frame); the tags after a
    gap are acked one by one.
    """
    wanted = set(tags)
    if not wanted:
        return []
    top = max(wanted)  # a multiple ack never reaches past it: sort only the held below
    ordered = sorted(t for t in held if t <= top)
    run = 0
    while run < len(ordered) and ordered[run] in wanted:
        run += 1
    frames: list[Frame] = []
    if run:
        frames.append(spec.Basic.Ack(delivery_tag=ordered[run - 1], multiple=run > 1))
    covered = set(ordered[:run])
    frames += [spec.Basic.Ack(delivery_tag=t) for t in sorted(wanted - covered)]
    return frames


def publish_frames(
    routing_key: str, body: bytes, props: spec.Basic.Properties, content_size: int
) -> list[Frame]:
    """The frames of one basic.publish to the default exchange (method, header, body)."""
    frames: list[Frame] = [
        spec.Basic.Publish(exchange="", routing_key=routing_key),
        ContentHeader(properties=props, body_size=len(body)),
    ]
    frames += [ContentBody(body[i:i + content_size]) for i in range(0, len(body), content_size)]
    return frames


async def _write(ch: Channel, frames: list[Frame]) -> None:
    """Queue `frames` on `ch` as one write, and wait until it reached the socket.

    One `ChannelFrame` is written whole, so nothing else on the channel comes between its
    frames; the transaction (tx.select) makes the publishes and acks take effect at the
    commit only. Publisher confirms are off on this channel, so no sequence is skipped.
    """
    if ch.is_closed:
        raise aiormq.exceptions.ChannelInvalidStateError(f"{ch!r} closed")
    drained = ch.create_future()  # type: ignore[attr-defined]  # rejected if ch closes
    await ch.write_queue.put(  # type: ignore[attr-defined]
        ChannelFrame.marshall(ch.number, frames, drain_future=drained)  # type: ignore[attr-defined]
    )
    await drained
