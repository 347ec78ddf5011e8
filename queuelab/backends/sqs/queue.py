"""`SqsQueue`: the TaskQueue on Amazon SQS (see the package docstring for the mapping).

Queues of one QueueLab queue `Q`:
* discipline fifo: `Q.fifo` (a FIFO queue; each task its own message group, so workers run
  in parallel) and `Q-delay`, a standard queue for delayed tasks, since FIFO queues refuse
  per-message delays; claims read `Q-delay` first about once a second, so a due retry is
  not starved by a busy main queue;
* discipline priority: `Q-p0` .. `Q-p{levels-1}`, standard queues polled highest first;
* both: `Q-dead`, the dead-letter queue (`dead.py`).

Attempts. A message's body is the task as it was sent; SQS counts its receives
(`ApproximateReceiveCount`), and every receive is an attempt begun, so a claimed task's
attempts = the body's + the receives. A peek is a receive too (with visibility 0): this
process remembers its own peeks and subtracts them.

Receipts. SQS accepts a delete with a stale receipt and may even delete the message another
worker holds now; so a receipt is judged here first: void once settled through it, once its
lease has run out by this machine's clock, and once the queue was purged (`LeaseLost`).
A standard queue may hand a message out twice (at-least-once; moto does under concurrent
receives): a second copy of a message this process holds is not handed out again, its
holder keeps its receipt too, and settling deletes through each (only the latest one SQS
gave out deletes; the order of the answers does not tell which). Across processes a
duplicate is handled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from queuelab.backends.base import (
    BackendError,
    Delivery,
    LeaseLost,
    QueueCounts,
    TaskQueue,
    lease_lost_many,
)
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from .dead import DeadIndex, encode_dead
from .link import PURGE_BUSY, VOID_RECEIPT, Link, SqsError
from .options import SqsOptions

MAX_DELAY = 900  # s: SQS's longest per-message delay; longer ones are re-delayed on receipt
MAX_VISIBILITY = 43_200  # s: SQS's longest visibility timeout, so the longest lease
_BATCH = 10  # SQS's most messages per ReceiveMessage, SendMessageBatch, DeleteMessageBatch
_DELAY_LOOK = 1.0  # s between reads of the fifo discipline's delay queue ahead of the main
_EMPTY_LOOK = 0.5  # s a source found empty is skipped by claims (unless this process sent)
_DUE = "queuelab_due"  # message attribute: wall-clock second a long-delayed task is due
_PEEKS_KEPT = 100_000

_TOKEN = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def _dedup_id() -> str:
    """A FIFO send's deduplication id and message group: unique per send, so a re-sent task
    is never dropped as a duplicate."""
    return f"{_TOKEN}-{next(_COUNTER)}"


@dataclass(slots=True, eq=False)
class SqsReceipt:
    """What settles one claimed message: its queue, receipt handle and message id."""

    queue_url: str
    handle: str
    message_id: str
    generation: int
    until: float  # wall-clock second the lease ends (the delivery's lease_until at claim)
    held: bool = True
    others: list[str] = field(default_factory=list)  # handles of second copies (see above)

    @property
    def handles(self) -> list[str]:
        return [self.handle, *self.others]


@dataclass(eq=False)
class _Shared:
    """What the handles of one SQS queue in this process share."""

    generation: int = 0  # bumped by purge: every older receipt is void
    peeks: OrderedDict[str, int] = field(default_factory=OrderedDict)
    dead: DeadIndex = field(default_factory=DeadIndex)
    empty_at: dict[str, float] = field(default_factory=dict)  # source -> when found empty
    # message id -> the receipt of this process that holds it: SQS (and moto) may hand a
    # message out again while it is held; the holder then takes the newer receipt
    holding: OrderedDict[str, SqsReceipt] = field(default_factory=OrderedDict)


_SHARED: dict[tuple[str, str, str], _Shared] = {}


class SqsQueue(TaskQueue):
    """A QueueLab queue on SQS; see the module and package docstrings."""

    def __init__(self, shown_url: str, options: SqsOptions) -> None:
        self.url = shown_url
        self.options = options
        self.discipline = options.discipline
        key = (options.endpoint or "", options.region, options.queue)
        self._shared = _SHARED.setdefault(key, _Shared())
        self._link: Link | None = None
        self._opening: asyncio.Lock | None = None
        self._sources: list[str] = []  # claim order: highest priority first
        self._delay_url = ""  # fifo: the delay queue
        self._dead_url = ""
        self._hot = 0  # index of the source a long poll waits on (where work was last seen)
        self._delay_looked = 0.0
        self.duplicates = 0  # second copies of held messages that SQS handed out, recognised

    # --- life cycle ---------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and create the queue's SQS queues where missing (idempotent)."""
        if self._link is not None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._link is None:
                link = Link(self.options, self.url)
                await link.open()
                try:
                    await self._create_queues(link)
                except BaseException:
                    await link.close()
                    raise
                self._link = link

    async def _create_queues(self, link: Link) -> None:
        q = self.options.queue
        keep = {"MessageRetentionPeriod": "1209600"}  # 14 days, SQS's longest
        fifo = {**keep, "FifoQueue": "true"}
        wanted = [(n, fifo if n.endswith(".fifo") else keep) for n in self.options.work_queues()]
        wanted.append((f"{q}-dead", keep))
        urls = await asyncio.gather(*(self._create(link, n, a) for n, a in wanted))
        self._dead_url = urls[-1]
        if self.options.priority:
            self._sources = list(urls[:-1])
        else:
            self._sources = [urls[0]]
            self._delay_url = urls[1]

    async def _create(self, link: Link, name: str, attributes: dict[str, str]) -> str:
        """The queue's URL, creating it on first use; an existing queue is used as it is."""
        try:
            got = await link.call(
                f"create queue {name}", "create_queue", QueueName=name, Attributes=attributes
            )
        except SqsError as exc:
            if exc.code not in ("QueueAlreadyExists", "QueueNameExists", "AccessDenied"):
                raise
            try:
                got = await link.call(f"find queue {name}", "get_queue_url", QueueName=name)
            except SqsError as again:
                raise SqsError(
                    f"{self.url}: queue {name} does not exist and could not be created "
                    f"({exc.code})",
                    again.code,
                ) from None
        return str(got["QueueUrl"])

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()

    async def _ready(self) -> Link:
        if self._link is None:
            await self.open()
        assert self._link is not None
        return self._link

    # --- producing ----------------------------------------------------------------------
    def _entry(self, task: Task, delay: float) -> tuple[str, dict[str, Any]]:
        """Where a task goes and the SendMessage arguments that put it there."""
        seconds = max(0, math.ceil(delay - 1e-9))
        entry: dict[str, Any] = {"MessageBody": task.to_json()}
        if seconds > MAX_DELAY:
            due = time.time() + delay
            entry["MessageAttributes"] = {
                _DUE: {"DataType": "Number", "StringValue": f"{due:.3f}"}
            }
        if self.options.priority:
            level = min(max(task.priority, 0), self.options.levels - 1)
            url = self._sources[len(self._sources) - 1 - level]
        elif seconds > 0:
            url = self._delay_url
        else:
            token = _dedup_id()  # a group of its own: no task waits behind another's lease
            return self._sources[0], {
                **entry, "MessageGroupId": token, "MessageDeduplicationId": token
            }  # fmt: skip
        if seconds > 0:
            entry["DelaySeconds"] = min(seconds, MAX_DELAY)
        return url, entry

    def _sent(self, url: str) -> None:
        self._shared.empty_at.pop(url, None)

    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        link = await self._ready()
        url, entry = self._entry(task, delay)
        self._sent(url)
        await link.call("enqueue", "send_message", QueueUrl=url, **entry)

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        """Batches of 10 per SendMessageBatch, in order (a FIFO queue keeps send order)."""
        link = await self._ready()
        pending: list[tuple[str, dict[str, Any]]] = [self._entry(t, 0.0) for t in tasks]
        refused: list[str] = []
        i = 0
        while i < len(pending):
            url = pending[i][0]
            chunk: list[dict[str, Any]] = []
            while i < len(pending) and pending[i][0] == url and len(chunk) < _BATCH:
                chunk.append(pending[i][1])
                i += 1
            self._sent(url)
            got = await link.call(
                "enqueue a batch",
                "send_message_batch",
                QueueUrl=url,
                Entries=[{"Id": str(n), **e} for n, e in enumerate(chunk)],
            )
            refused += [f"{f.get('Code')}: {f.get('Message')}" for f in got.get("Failed", [])]
        if refused:
            raise BackendError(
                f"{self.url}: SQS refused {len(refused)} of {len(pending)} tasks ({refused[0]})"
            )

    # --- consuming ----------------------------------------------------------------------
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        if max_tasks < 1:
            return []
        await self._ready()
        visibility = min(MAX_VISIBILITY, max(1, math.ceil(lease - 1e-9)))
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            got = await self._sweep(visibility, max_tasks)
            if got:
                return got
            left = None if end is None else end - loop.time()
            if left is not None and left <= 0:
                return []
            if left is None or left >= 1.0:  # a long poll where work was last seen
                wait = self.options.wait if left is None else min(self.options.wait, int(left))
                got = await self._receive(
                    self._sources[self._hot], max_tasks, visibility, wait
                )
                if got:
                    return got
            else:
                await asyncio.sleep(min(left, 0.1))

    async def _sweep(self, visibility: int, want: int) -> list[Delivery]:
        """One pass over the sources in claim order, taking up to `want` tasks. Sources found
        empty in the last half second are skipped, unless that leaves the claim with none."""
        sources = list(self._sources)
        if self._delay_url:
            now = time.monotonic()
            if now - self._delay_looked >= _DELAY_LOOK:
                self._delay_looked = now
                sources.insert(0, self._delay_url)
            else:
                sources.append(self._delay_url)
        empty_at = self._shared.empty_at
        now = time.monotonic()
        fresh = [u for u in sources if now - empty_at.get(u, -_EMPTY_LOOK) >= _EMPTY_LOOK]
        got = await self._take(fresh, visibility, want)
        if not got and len(fresh) < len(sources):
            got = await self._take([u for u in sources if u not in fresh], visibility, want)
        return got

    async def _take(self, sources: list[str], visibility: int, want: int) -> list[Delivery]:
        got: list[Delivery] = []
        empty_at = self._shared.empty_at
        for url in sources:
            while len(got) < want:
                ask = min(_BATCH, want - len(got))
                batch = await self._receive(url, ask, visibility, 0)
                got += batch
                if len(batch) < ask:
                    if batch:
                        empty_at.pop(url, None)
                    else:
                        empty_at[url] = time.monotonic()
                    break
            if len(got) >= want:
                break
        return got

    async def _receive(self, url: str, want: int, visibility: int, wait: int) -> list[Delivery]:
        link = await self._ready()
        answer = await link.call(
            "claim",
            "receive_message",
            QueueUrl=url,
            MaxNumberOfMessages=min(_BATCH, want),
            VisibilityTimeout=visibility,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=[_DUE],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return []
        if url in self._sources:
            self._hot = self._sources.index(url)
        now = time.time()
        shared = self._shared
        out: list[Delivery] = []
        for m in messages:
            task = await self._decode(link, url, m)
            if task is None:
                continue
            holder = shared.holding.get(m["MessageId"])
            if holder is not None and holder.held and holder.until > now:
                holder.others.append(m["ReceiptHandle"])  # a second copy: not handed out
                self.duplicates += 1
                continue
            received = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            peeked = shared.peeks.pop(m["MessageId"], 0)
            task.attempts += max(1, received - peeked)
            receipt = SqsReceipt(
                url, m["ReceiptHandle"], m["MessageId"], shared.generation, now + visibility
            )
            shared.holding[m["MessageId"]] = receipt
            if len(shared.holding) > _PEEKS_KEPT:
                shared.holding.popitem(last=False)
            out.append(Delivery(task, receipt, now + visibility))
        return out

    async def _decode(self, link: Link, url: str, m: dict[str, Any]) -> Task | None:
        """The message's task; None when it is not one to hand out: a long-delayed task not
        yet due (sent again with the rest of its delay) or a foreign body (dead-lettered)."""
        try:
            task = Task.from_json(m["Body"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            dead = DeadLetter(
                Task(id=f"sqs:{m['MessageId']}", payload=str(m["Body"])[:10_000]),
                "UndecodableMessage", f"{type(exc).__name__}: {exc}", 0.0,
            )  # fmt: skip
            await link.call(
                "dead-letter a foreign message", "send_message",
                QueueUrl=self._dead_url, MessageBody=encode_dead(dead),
            )  # fmt: skip
            await self._delete(link, url, m["ReceiptHandle"], "drop a foreign message")
            return None
        due_attr = m.get("MessageAttributes", {}).get(_DUE)
        if due_attr is not None:
            left = float(due_attr.get("StringValue", "0")) - time.time()
            if left > 0.5:  # not due yet: the rest of its delay, at most 900 s per hop
                target, entry = self._entry(task, left)
                await link.call("re-delay a task", "send_message", QueueUrl=target, **entry)
                await self._delete(link, url, m["ReceiptHandle"], "re-delay a task")
                self._shared.peeks.pop(m["MessageId"], None)
                return None
        return task

    async def _delete(self, link: Link, url: str, handle: str | list[str], verb: str) -> None:
        """DeleteMessage; with several receipts of one message (second copies), through each."""
        handles = [handle] if isinstance(handle, str) else handle
        try:
            if len(handles) == 1:
                await link.call(verb, "delete_message", QueueUrl=url, ReceiptHandle=handles[0])
            else:
                await link.call(verb, "delete_message_batch", QueueUrl=url, Entries=[
                    {"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(handles[:_BATCH])
                ])  # fmt: skip
        except SqsError as exc:
            if exc.code in VOID_RECEIPT:
                raise LeaseLost(f"{self.url}: the receipt is void ({verb})") from None
            raise

    def _settle(self, r: SqsReceipt) -> None:
        r.held = False
        if self._shared.holding.get(r.message_id) is r:
            del self._shared.holding[r.message_id]

    def _held(self, delivery: Delivery, verb: str) -> SqsReceipt:
        """The delivery's receipt if it still holds the task, else `LeaseLost`."""
        r = delivery.receipt
        if not isinstance(r, SqsReceipt):
            raise LeaseLost(f"{self.url}: not a receipt of this queue ({verb})")
        if not r.held or r.generation != self._shared.generation:
            raise LeaseLost(f"{self.url}: the receipt is void ({verb}: settled or purged)")
        if time.time() >= delivery.lease_until:
            raise LeaseLost(f"{self.url}: the lease ran out before {verb}")
        return r

    async def ack(self, delivery: Delivery) -> None:
        r = self._held(delivery, "ack")
        self._settle(r)
        await self._delete(await self._ready(), r.queue_url, r.handles, "ack")

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """DeleteMessageBatch, 10 receipts a call per source queue."""
        link = await self._ready()
        void = 0
        by_queue: dict[str, list[SqsReceipt]] = {}
        for d in deliveries:
            try:
                r = self._held(d, "ack")
            except LeaseLost:
                void += 1
                continue
            self._settle(r)
            by_queue.setdefault(r.queue_url, []).append(r)
        for url, receipts in by_queue.items():
            for start in range(0, len(receipts), _BATCH):
                chunk = receipts[start : start + _BATCH]
                got = await link.call(
                    "ack a batch",
                    "delete_message_batch",
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": r.handle} for n, r in enumerate(chunk)
                    ],
                )
                for r in chunk:  # second copies' receipts (rare): deleted through each
                    if r.others:
                        await self._delete(link, url, r.others, "ack")
                failed = got.get("Failed", [])
                void += sum(1 for f in failed if f.get("Code") in VOID_RECEIPT)
                other = [f for f in failed if f.get("Code") not in VOID_RECEIPT]
                if other:
                    raise BackendError(
                        f"{self.url}: ack failed for {len(other)} tasks ({other[0].get('Code')})"
                    )
        if void:
            raise lease_lost_many(void, len(deliveries), self.url)

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Send the task as it is now (a message's body cannot change), then delete the
        claimed message: a crash in between leaves a duplicate, never a loss."""
        r = self._held(delivery, "nack")
        link = await self._ready()
        url, entry = self._entry(delivery.task, delay)
        self._sent(url)
        await link.call("nack", "send_message", QueueUrl=url, **entry)
        self._settle(r)
        await self._delete(link, r.queue_url, r.handles, "nack")

    async def dead_letter(
        self, delivery: Delivery, error_kind: str, error: str, at: float
    ) -> None:
        r = self._held(delivery, "dead-letter")
        link = await self._ready()
        dead = DeadLetter(delivery.task, error_kind, error, at)
        await link.call(
            "dead-letter", "send_message", QueueUrl=self._dead_url, MessageBody=encode_dead(dead)
        )
        self._settle(r)
        await self._delete(link, r.queue_url, r.handles, "dead-letter")

    async def extend(self, delivery: Delivery, lease: float) -> None:
        """ChangeMessageVisibility: the lease runs `lease` seconds from now (at most 12 h)."""
        r = self._held(delivery, "extend")
        visibility = min(MAX_VISIBILITY, max(1, math.ceil(lease - 1e-9)))
        link = await self._ready()
        changed = False
        for handle in r.handles:  # one of them is the latest receipt (second copies)
            try:
                await link.call(
                    "extend a lease", "change_message_visibility", QueueUrl=r.queue_url,
                    ReceiptHandle=handle, VisibilityTimeout=visibility,
                )  # fmt: skip
                changed = True
            except SqsError as exc:
                if exc.code not in VOID_RECEIPT:
                    raise
        if not changed:
            self._settle(r)
            raise LeaseLost(f"{self.url}: the lease was lost before extend")
        delivery.lease_until = r.until = time.time() + visibility

    # --- looking ------------------------------------------------------------------------
    def _all_urls(self) -> list[str]:
        return [*self._sources, *([self._delay_url] if self._delay_url else []), self._dead_url]

    async def _attributes(self, link: Link, url: str) -> tuple[int, int, int]:
        got = await link.call(
            "count",
            "get_queue_attributes",
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
        a = got.get("Attributes", {})
        return (
            int(a.get("ApproximateNumberOfMessages", 0)),
            int(a.get("ApproximateNumberOfMessagesDelayed", 0)),
            int(a.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    async def counts(self) -> QueueCounts:
        """SQS's approximate counts (exact on a quiet queue), read from every queue at once."""
        link = await self._ready()
        urls = self._all_urls()
        each = await asyncio.gather(*(self._attributes(link, u) for u in urls))
        work, dead = each[:-1], each[-1]
        return QueueCounts(
            ready=sum(c[0] for c in work),
            delayed=sum(c[1] for c in work),
            leased=sum(c[2] for c in work),
            dead=sum(dead),
        )

    async def peek(self, n: int = 1) -> list[Task]:
        """Receives with visibility 0 (SQS has no other look), at most 10 per source queue;
        this process subtracts its peeks from the receive count a later claim sees."""
        link = await self._ready()
        seen: list[Task] = []
        shared = self._shared
        sources = [*self._sources, *([self._delay_url] if self._delay_url else [])]
        for url in sources:
            if len(seen) >= n:
                break
            got = await link.call(
                "peek",
                "receive_message",
                QueueUrl=url,
                MaxNumberOfMessages=min(_BATCH, n - len(seen)),
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                MessageAttributeNames=[_DUE],
            )
            for m in got.get("Messages", []):
                shared.peeks[m["MessageId"]] = shared.peeks.get(m["MessageId"], 0) + 1
                if len(shared.peeks) > _PEEKS_KEPT:
                    shared.peeks.popitem(last=False)
                due = m.get("MessageAttributes", {}).get(_DUE)
                if due is not None and float(due.get("StringValue", "0")) > time.time() + 0.5:
                    continue
                try:
                    task = Task.from_json(m["Body"])
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
                seen.append(task)
        return seen[:n]

    # --- dead letters -------------------------------------------------------------------
    async def _dead(self) -> DeadIndex:
        link = await self._ready()
        index = self._shared.dead
        await index.refresh(link, self._dead_url, self.options.dead_hold)
        return index

    async def dead_letters(self, query: DeadLetterQuery | None = None) -> DeadLetterPage:
        return (await self._dead()).page(query or DeadLetterQuery())

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        return (await self._dead()).get(task_id)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        index = await self._dead()
        link = await self._ready()

        async def send_back(dead: DeadLetter) -> None:
            task = dead.task
            if reset_attempts:
                task.attempts = 0
            url, entry = self._entry(task, 0.0)
            await link.call("reprocess", "send_message", QueueUrl=url, **entry)

        return await index.remove(link, self._dead_url, task_ids, send_back)

    async def discard(self, task_ids: Sequence[str]) -> int:
        index = await self._dead()
        return await index.remove(await self._ready(), self._dead_url, task_ids)

    # --- tests and tools ----------------------------------------------------------------
    async def purge(self) -> None:
        """PurgeQueue on every queue that holds anything. SQS allows one purge a minute per
        queue: within that minute the visible messages are received and deleted instead, and
        what cannot be received (delayed, or in flight elsewhere) is reported."""
        link = await self._ready()
        shared = self._shared
        shared.generation += 1
        shared.peeks.clear()
        shared.holding.clear()
        shared.dead.clear()
        left = 0
        for url in self._all_urls():
            if sum(await self._attributes(link, url)) == 0:
                continue
            try:
                await link.call("purge", "purge_queue", QueueUrl=url)
            except SqsError as exc:
                if exc.code not in PURGE_BUSY:
                    raise
                await self._drain(link, url)
                ready, delayed, leased = await self._attributes(link, url)
                left += ready + delayed + leased
        if left:
            raise BackendError(
                f"{self.url}: purge left {left} delayed or in-flight messages (SQS allows one "
                "PurgeQueue a minute per queue; try again in a minute)"
            )

    async def _drain(self, link: Link, url: str) -> None:
        while True:
            got = await link.call(
                "purge", "receive_message", QueueUrl=url, MaxNumberOfMessages=_BATCH,
                VisibilityTimeout=30, WaitTimeSeconds=0,
            )  # fmt: skip
            messages = got.get("Messages", [])
            if not messages:
                return
            await link.call(
                "purge",
                "delete_message_batch",
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                         for n, m in enumerate(messages)],
            )  # fmt: skip

    async def destroy(self) -> None:
        """Delete this queue's SQS queues (tests; a person's tools)."""
        link = await self._ready()
        for url in self._all_urls():
            with contextlib.suppress(SqsError):
                await link.call("delete queue", "delete_queue", QueueUrl=url)
        _SHARED.pop((self.options.endpoint or "", self.options.region, self.options.queue), None)
