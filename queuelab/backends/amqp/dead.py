"""The dead-letter queue, read into this process so it can be listed, paged and searched.

RabbitMQ cannot query a queue: the only reads are consume and basic.get, and a message read
is held until acked or given back. So the store consumes `queuelab.<q>.dead` on a channel of
its own with no prefetch limit and acks nothing until a person decides. Every dead letter is
then held (unacked) here and indexed by task id - from its headers, undecoded, where it has
them (`wire.dead_message`); listing, paging and filtering decode and run in memory
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
import pamqp.frame
from aio_pika.abc import AbstractRobustChannel
from aiormq import spec
from aiormq.abc import ChannelFrame, DeliveredMessage
from aiormq.exceptions import ChannelNotFoundEntity
from pamqp.common import FieldTable

from queuelab.backends.base import BackendError
from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from .frames import TaskPublish
from .link import Link, is_trouble, retry_read
from .topology import Names
from .wire import TASK_JSON_START, decode_dead, headed_task_id, new_message_id, task_json_end

Channel = aiormq.abc.AbstractChannel
T = TypeVar("T")

#: s a listing waits for the dead-letter queue to stream in (see DeadLetterStore.sync): in
#: all, and without a new delivery
LOAD_TIMEOUT = 300.0
STALL_TIMEOUT = 5.0


@dataclass(slots=True, eq=False)  # compared by identity
class _Entry:
    """One held DLQ message. Its body is decoded only when a listing needs it (`dead`):
    a bulk reprocess reads the id from the headers and moves the task's bytes as they are."""

    channel: Channel
    tag: int
    body: bytes
    message_id: str | None
    headers: FieldTable | None
    priority: int | None  # the task's AMQP priority, as recorded when it was dead-lettered
    task_end: int  # where the task's JSON ends in `body` (wire.task_json_end); 0: unknown
    decoded: DeadLetter | None = None

    @property
    def dead(self) -> DeadLetter:
        if self.decoded is None:
            self.decoded = decode_dead(self.body, self.message_id, self.headers)
        return self.decoded


class DeadLetterStore:
    """The dead letters of one queue, held by this process (see the module docstring)."""

    def __init__(self, link: Link, names: Names, priority_of: Callable[[Task], int | None]) -> None:
        self._link = link
        self._names = names
        self._priority_of = priority_of  # Task -> AMQP priority or None
        self._robust: AbstractRobustChannel | None = None
        self._on: Channel | None = None
        self._index: dict[str, list[_Entry]] = {}
        self._pending: list[tuple[str, _Entry]] = []  # indexed by header, not yet decoded
        self._lock = asyncio.Lock()

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
            self._drop_index()  # held on a closed channel: the broker has them back
            await ch.tx_select()
            await ch.basic_consume(self._names.dead,  # aiormq wraps a plain callback
                                   self._on_message)  # type: ignore[arg-type]
            self._on = ch
        return ch

    def _on_message(self, message: DeliveredMessage) -> None:
        self._add(message.channel, message)

    def _add(self, ch: Channel, message: DeliveredMessage) -> None:
        props = message.header.properties
        delivery = message.delivery
        assert isinstance(delivery, spec.Basic.Deliver | spec.Basic.GetOk)
        assert delivery.delivery_tag is not None
        body, headers = message.body, props.headers
        entry = _Entry(ch, delivery.delivery_tag, body, props.message_id, headers,
                       props.priority, 0)
        headed = headed_task_id(headers)
        if headed is not None:
            entry.task_end = task_json_end(body, *headed)
        if headed is not None and entry.task_end:
            task_id = headed[0]
            self._pending.append((task_id, entry))
        else:  # written without the headers (or not as they say): decode it now
            task_id = entry.dead.id
        self._index.setdefault(task_id, []).append(entry)

    def _drop_index(self) -> None:
        self._index.clear()
        self._pending.clear()

    def _decode_all(self) -> None:
        """Decode every held dead letter for a listing. A body that the headers described
        but that does not decode after all (not a task) is filed under the id its decoded
        dead letter shows, so that what a listing shows can be moved by that id."""
        index, pending, self._pending = self._index, self._pending, []
        for task_id, entry in pending:
            entries = index.get(task_id, [])
            if not any(e is entry for e in entries) or entry.dead.id == task_id:
                continue  # moved or discarded since, or filed as it decodes
            entries.remove(entry)
            if not entries:
                del index[task_id]
            index.setdefault(entry.dead.id, []).append(entry)

    def _forget_closed(self) -> None:
        if self._on is not None and self._on.is_closed:
            self._drop_index()
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
            self._decode_all()
            dead = [e[0].dead for e in self._index.values()]
        return page_of(dead, query)

    async def get(self, task_id: str) -> DeadLetter | None:
        async with self._lock:
            await self._retrying(self.sync)
            self._decode_all()
            entries = self._index.get(task_id)
        return entries[0].dead if entries else None

    # --- moving -------------------------------------------------------------------------
    async def reprocess(self, task_ids: Sequence[str], reset_attempts: bool) -> int:
        """Publish each task to the main queue and ack its dead letter(s), one transaction.

        A dead letter with the headers (`wire.task_json_end`) goes back as the very bytes
        of its task's JSON, with the AMQP priority it had: no decode, no encode. Resetting
        attempts, or one without them, is decoded and encoded again.
        """
        priority_of = self._priority_of

        def move(entries: list[_Entry], publish: TaskPublish) -> bytes:
            first = entries[0]
            if first.task_end and not reset_attempts:
                body, priority = first.body[TASK_JSON_START:first.task_end], first.priority
            else:
                task = first.dead.task
                data = task.to_dict()  # a fresh dict: the index keeps its own task
                if reset_attempts:
                    data["attempts"] = 0
                body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
                priority = priority_of(task)
            return publish(body, new_message_id(), priority)

        return await self._transact(task_ids, move, "reprocess")

    async def discard(self, task_ids: Sequence[str]) -> int:
        def nothing(entries: list[_Entry], publish: TaskPublish) -> bytes:
            return b""

        return await self._transact(task_ids, nothing, "discard")

    async def _transact(
        self,
        task_ids: Sequence[str],
        action: Callable[[list[_Entry], TaskPublish], bytes],
        verb: str,
    ) -> int:
        """Per task: `action`'s publish (frames as bytes), then ack its DLQ message(s); one
        commit.

        Fast and still all-or-nothing: the publishes go out in pipelined chunks of
        `_CHUNK` messages, each chunk one write (not a socket send per frame), the acks
        at the end (`acks`: one `multiple` ack where the acked tags are contiguous), and
        the commit is the one round trip. Nothing is applied before the commit, so a
        drop anywhere leaves every task a dead letter.
        """
        async with self._lock:
            ch = await self._retrying(self.sync)
            content_size = int(getattr(ch, "max_content_size", 0) or 0) or 131_000
            publish = TaskPublish(ch.number, self._names.main, content_size)
            index = self._index
            done: list[str] = []
            tags: list[int] = []
            try:
                out: list[bytes] = []
                moved = size = 0
                for task_id in dict.fromkeys(task_ids):
                    entries = index.get(task_id)
                    if not entries:
                        continue
                    frames = action(entries, publish)
                    out.append(frames)
                    tags += [entry.tag for entry in entries]
                    done.append(task_id)
                    moved += 1
                    size += len(frames)
                    if moved >= _CHUNK or size >= _CHUNK_BYTES:
                        await _write(ch, b"".join(out))
                        out, moved, size = [], 0, 0
                held = [e.tag for group in index.values() for e in group]
                out += (pamqp.frame.marshal(f, ch.number) for f in acks(held, tags))
                if out:
                    await _write(ch, b"".join(out))
                if done:
                    # the main queue must still exist, or the moved tasks would be dropped
                    # unroutable: a failed check closes the channel, which discards the
                    # uncommitted transaction, so nothing moves
                    await ch.queue_declare(self._names.main, passive=True)
                    await ch.tx_commit()
            except BaseException as exc:
                if not is_trouble(exc):
                    raise
                self._drop_index()
                if isinstance(exc, ChannelNotFoundEntity):
                    raise BackendError(f"{self._link.shown}: {verb} moved nothing: {exc}") from None
                raise BackendError(
                    f"{self._link.shown}: the connection dropped during {verb}; each task is "
                    "either still a dead letter or moved (a transaction), list again to see"
                ) from None
            for task_id in done:
                del index[task_id]
            if len(self._pending) > 2 * len(index) + 1000:  # moved ones need no decoding
                self._pending = [(k, e) for k, e in self._pending
                                 if any(x is e for x in index.get(k, ()))]
            return len(done)

    async def drop_all(self) -> None:
        """Ack every held dead letter (purge); the caller then purges the DLQ itself."""
        async with self._lock:
            ch = await self._retrying(self.sync)
            held = [e.tag for group in self._index.values() for e in group]
            if held:
                await _write(ch, b"".join(pamqp.frame.marshal(f, ch.number)
                                          for f in acks(held, held)))
                await ch.tx_commit()
            self._drop_index()

    async def close(self) -> None:
        robust, self._robust = self._robust, None
        self._drop_index()
        self._on = None
        if robust is not None:
            with contextlib.suppress(Exception):
                await robust.close()

    async def _retrying(self, op: Callable[[], Awaitable[T]]) -> T:
        """A read, again after a reconnection; the index of the lost connection is dropped."""
        return await retry_read(self._link, op, "read the dead-letter queue", self._forget)

    def _forget(self) -> None:
        self._drop_index()
        self._on = None


#: messages (or body bytes) per write in a reprocess: one socket send each, not one per
#: frame, and a bounded buffer however large the tasks
_CHUNK = 2000
_CHUNK_BYTES = 4 << 20


def acks(held: Iterable[int], tags: Iterable[int]) -> list[spec.Basic.Ack]:
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
    frames: list[spec.Basic.Ack] = []
    if run:
        frames.append(spec.Basic.Ack(delivery_tag=ordered[run - 1], multiple=run > 1))
    covered = set(ordered[:run])
    frames += [spec.Basic.Ack(delivery_tag=t) for t in sorted(wanted - covered)]
    return frames


async def _write(ch: Channel, payload: bytes) -> None:
    """Queue encoded frames on `ch` as one write, and wait until it reached the socket.

    One `ChannelFrame` is written whole, so nothing else on the channel comes between its
    frames; the transaction (tx.select) makes the publishes and acks take effect at the
    commit only. Publisher confirms are off on this channel, so no sequence is skipped.
    """
    if ch.is_closed:
        raise aiormq.exceptions.ChannelInvalidStateError(f"{ch!r} closed")
    drained = ch.create_future()  # type: ignore[attr-defined]  # rejected if ch closes
    await ch.write_queue.put(  # type: ignore[attr-defined]
        ChannelFrame(payload=payload, should_close=False, drain_future=drained)
    )
    await drained
