"""`RedisQueue`: the TaskQueue operations, each one Lua script and one round trip.

Python only encodes and decodes: tasks go in as `Task.to_json` and come back as they were
stored, with `attempts` taken from the server's counter. Lease deadlines are the server's
clock; a `Delivery` carries them converted to this machine's (`lease_until`), using the
offset seen on the last reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any, NamedTuple

from queuelab.backends.base import (
    BackendError,
    Delivery,
    DisciplineMismatch,
    LeaseLost,
    QueueCounts,
    TaskQueue,
)
from queuelab.backends.redis_queue import scripts as lua
from queuelab.backends.redis_queue.keys import QueueKeys
from queuelab.backends.redis_queue.link import Link
from queuelab.backends.redis_queue.waiting import Listener, Wakeups
from queuelab.core.dead_letter_query import check, page_of, window
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task
from queuelab.core.undecodable import try_decode, undecodable

log = logging.getLogger(__name__)

DISCIPLINES = ("fifo", "priority")
#: tasks per enqueue or reprocess script: keeps each script short, so Redis stays responsive
CHUNK = 500
#: the most one claim takes (its reply is built in one Lua table)
MAX_CLAIM = 1000
#: priorities are ZSET scores (doubles): keep them exactly representable
MAX_PRIORITY = 10**12

_FIRST_PAGE = DeadLetterQuery()


class Receipt(NamedTuple):
    """A lease's receipt: the task id and the token its claim wrote."""

    id: str
    token: str


class RedisQueue(TaskQueue):
    """A queue held in Redis; see the package docstring for the design."""

    def __init__(
        self,
        url: str,
        shown: str,
        *,
        name: str = "default",
        discipline: str | None = None,
        connect_timeout: float = 3.0,
        socket_timeout: float = 10.0,
        reconnect_timeout: float = 30.0,
        poll_interval: float = 2.0,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        if discipline is not None and discipline not in DISCIPLINES:
            raise BackendError(
                f"redis:// discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
            )
        self.url = shown
        self.name = name
        self._wanted = discipline  # None: whatever the queue already has (FIFO if new)
        self.discipline = discipline or "fifo"  # the queue's own, once opened
        self._fifo = "1" if self.discipline == "fifo" else "0"
        keys = self._keys = QueueKeys(name)
        self._channel = keys.channel
        self._link = Link(
            url,
            shown,
            client_name="queuelab:" + name.replace(" ", "_"),
            connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            reconnect_timeout=reconnect_timeout,
            redis_options=redis_options or {},
        )
        self._link.use_lanes(keys.key("lanes"))
        self._wakeups = Wakeups(poll_interval)
        self._listener = Listener(
            self._link, keys.channel, self._wakeups, self._to_local, settle=connect_timeout
        )
        self._skew = 0.0  # the server's wall clock minus this machine's
        self._open = False
        self._k_claim = keys.of(lua.CLAIM.keys)
        self._k_ack = keys.of(lua.ACK.keys)
        self._k_nack = keys.of(lua.NACK.keys)
        self._k_dead_letter = keys.of(lua.DEAD_LETTER.keys)
        self._k_extend = keys.of(lua.EXTEND.keys)
        self._k_enqueue = keys.of(lua.ENQUEUE.keys)
        self._k_reprocess = keys.of(lua.REPROCESS.keys)
        self._k_discard = keys.of(lua.DISCARD.keys)
        self._k_counts = keys.of(lua.COUNTS.keys)
        self._k_peek = keys.of(lua.PEEK.keys)
        self._k_dead_page = keys.of(lua.DEAD_PAGE.keys)
        self._k_get_dead = keys.of(lua.GET_DEAD.keys)
        self._k_meta = keys.of(lua.DISCIPLINE.keys)

    @property
    def reconnects(self) -> int:
        """Connection outages this handle has recovered from (for reports and tests)."""
        return self._link.reconnects

    # --- life cycle ---------------------------------------------------------------
    async def open(self) -> None:
        """Connect and agree on the queue's discipline; a second open does nothing.

        Without an explicit discipline the queue's own is adopted, so tools can open any
        queue by name; naming a different one than the queue has is refused (here, or at
        the first enqueue if the queue had never held a task when this handle opened).
        """
        if self._open:
            return
        await self._link.open()
        found = (await self._link.call(lua.DISCIPLINE, self._k_meta, ())).decode()
        if found and self._wanted is not None and found != self._wanted:
            await self._link.close()
            raise self._other_discipline(found)
        self.discipline = found or self._wanted or "fifo"
        self._fifo = "1" if self.discipline == "fifo" else "0"
        self._listener.open()
        self._open = True

    async def notices(self) -> list[str]:
        """A warning when the server keeps nothing on disk (neither RDB snapshots nor an
        append-only file): a restart of it empties every queue it holds."""
        durable = await self.persistence()
        if durable is not False:
            return []
        return [
            f"{self.url}: this Redis keeps nothing on disk (no RDB snapshots, no AOF): a "
            "restart of the server loses every task and dead letter on it"
        ]

    async def persistence(self) -> bool | None:
        """Whether the server persists its data (RDB or AOF); None when it will not say.

        CONFIG GET is asked first; where it is refused (ACLs, managed services) INFO
        persistence still tells whether AOF is on (RDB's schedule it does not say).
        """
        client = self._link.client
        if client is None:
            return None
        try:
            config = await client.config_get("save")
            config.update(await client.config_get("appendonly"))
            return bool(str(config.get("save", "")).strip()) or config.get("appendonly") == "yes"
        except Exception:  # CONFIG refused or renamed: INFO is the fallback
            pass
        try:
            info = await client.info("persistence")
        except Exception:
            return None
        return True if int(info.get("aof_enabled", 0)) else None

    async def close(self) -> None:
        """Stop listening and disconnect; waiting claimers return empty-handed."""
        self._open = False
        await self._listener.close()
        self._wakeups.close()
        await self._link.close()

    # --- producing ----------------------------------------------------------------
    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        self._refuse(await self._enqueue([task], delay))

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        """In chunks of `CHUNK`, each one script; ids already held are refused at the end."""
        it = iter(tasks)
        dups: list[str] = []
        while chunk := list(islice(it, CHUNK)):
            dups += await self._enqueue(chunk, 0.0)
        self._refuse(dups)

    async def _enqueue(self, tasks: list[Task], delay: float) -> list[str]:
        """Enqueue; returns the ids refused because a task of that id is already held."""
        args: list[Any] = [self._channel, self._fifo, repr(float(delay))]
        for task in tasks:
            args += (task.id, task.to_json(), task.attempts, self._priority(task))
        dups = await self._link.mutate(lua.ENQUEUE, self._k_enqueue, args)
        if dups[:1] == b"!":
            raise self._other_discipline(dups[1:].decode())
        return [] if dups == b"[]" else json.loads(dups)

    def _refuse(self, dups: list[str]) -> None:
        if dups:
            shown = ", ".join(dups[:10]) + (f" and {len(dups) - 10} more" if len(dups) > 10 else "")
            raise BackendError(
                f"{self.url}: task id(s) {shown} already in the queue; not enqueued again"
            )

    def _priority(self, task: Task) -> str:
        if self._fifo == "1":
            return "0"
        p = task.priority
        if not -MAX_PRIORITY <= p <= MAX_PRIORITY:
            raise ValueError(f"redis:// priorities must lie within ±10**12, not {p}")
        return str(p)

    # --- consuming ----------------------------------------------------------------
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        if lease <= 0 or max_tasks < 1:
            raise ValueError(f"claim needs lease > 0 and max_tasks >= 1 ({lease}, {max_tasks})")
        args = (self._channel, self._fifo, repr(float(lease)), min(max_tasks, MAX_CLAIM))
        if timeout is not None and timeout <= 0:
            return (await self._claim(args))[0]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        wake = self._wakeups
        wake.enter()
        try:
            listening = self._listener.listening
            got, due = await self._claim(args)
            if not got and not listening:  # wake-ups sent during that look were missed
                await self._listener.ready(deadline)
                got, due = await self._claim(args)
            while not got:
                if due is not None:
                    wake.due(due)
                if deadline is not None and loop.time() >= deadline:
                    return []
                if not await wake.wait(deadline) or not self._open:
                    return []
                got, due = await self._claim(args)
            return got
        finally:
            wake.leave()

    async def _claim(self, args: tuple[Any, ...]) -> tuple[list[Delivery], float | None]:
        """One claim script: the deliveries, and when something falls due if none came.

        A body that is not a task is dead-lettered on the spot (`core.undecodable`) and its
        place claimed again, so the claimer gets the tasks that do decode.
        """
        out: list[Delivery] = []
        while True:
            reply = await self._link.mutate(lua.CLAIM, self._k_claim, args)
            skew = self._skew = float(reply[0]) - time.time()
            if reply[5]:
                log.warning(
                    "%s: a claim's reply was lost and %d of its tasks were taken back before "
                    "it was retried (their leases ran out); they are in the queue again with "
                    "the lost attempt counted",
                    self.url,
                    reply[5],
                )
            if len(reply) == 6:
                return out, (float(reply[3]) - skew if reply[3] and not out else None)
            until = float(reply[1]) - skew
            token = reply[4].decode()
            buried = 0
            for i in range(6, len(reply), 3):
                receipt = Receipt(reply[i].decode(), token)
                task = try_decode(reply[i + 1])
                if isinstance(task, Task):
                    task.attempts = reply[i + 2]
                    out.append(Delivery(task, receipt, until))
                else:
                    await self._bury(receipt, reply[i + 1], task)
                    buried += 1
            if not buried or (len(reply) - 6) // 3 < int(args[3]):
                return out, None  # nothing buried, or the queue had no more
            args = (*args[:3], buried)

    async def _bury(self, r: Receipt, raw: bytes, why: Exception) -> None:
        """Dead-letter a claimed body that is not a task."""
        dead = undecodable(raw, r.id, str(why))
        record = json.dumps(dead.to_dict(), separators=(",", ":"), allow_nan=False)
        args = (self._fifo, r.id, r.token, record, "0.0", dead.error_kind)
        if await self._link.mutate(lua.DEAD_LETTER, self._k_dead_letter, args) == 2:
            log.warning(
                "%s: task %r does not decode and a dead letter of that id exists; it stays "
                "leased until its lease runs out", self.url, r.id,
            )

    async def ack(self, delivery: Delivery) -> None:
        r = self._receipt(delivery)
        code = await self._link.mutate(lua.ACK, self._k_ack, (self._fifo, r.id, r.token))
        if code != 1:
            raise self._lost(delivery)

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        r = self._receipt(delivery)
        task = self._same_task(delivery, r)
        args = (
            self._channel, self._fifo, r.id, r.token, task.to_json(), task.attempts,
            self._priority(task), repr(float(delay)),
        )  # fmt: skip
        if await self._link.mutate(lua.NACK, self._k_nack, args) != 1:
            raise self._lost(delivery)

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str, at: float) -> None:
        r = self._receipt(delivery)
        task = self._same_task(delivery, r)
        record = json.dumps(
            DeadLetter(task, error_kind, error, at).to_dict(),
            separators=(",", ":"),
            allow_nan=False,
        )
        args = (self._fifo, r.id, r.token, record, repr(float(at)), error_kind)
        code = await self._link.mutate(lua.DEAD_LETTER, self._k_dead_letter, args)
        if code == 2:
            raise BackendError(f"{self.url}: a task {task.id!r} is already dead-lettered")
        if code != 1:
            raise self._lost(delivery)

    async def extend(self, delivery: Delivery, lease: float) -> None:
        """Renew the lease from now; `delivery.lease_until` is updated in place."""
        if lease <= 0:
            raise ValueError(f"extend needs lease > 0 ({lease})")
        r = self._receipt(delivery)
        reply = await self._link.call(lua.EXTEND, self._k_extend, (r.id, r.token, repr(lease)))
        if not reply:
            raise self._lost(delivery)
        self._skew = float(reply[0]) - time.time()
        delivery.lease_until = float(reply[1]) - self._skew

    # --- looking ------------------------------------------------------------------
    async def counts(self) -> QueueCounts:
        reply = await self._link.call(lua.COUNTS, self._k_counts, (self._channel, self._fifo))
        return QueueCounts(*reply)

    async def peek(self, n: int = 1) -> list[Task]:
        if n < 1:
            return []
        args = (self._channel, self._fifo, min(n, MAX_CLAIM))
        reply = await self._link.call(lua.PEEK, self._k_peek, args)
        out = []
        for i in range(0, len(reply), 3):
            task = try_decode(reply[i + 1])
            if isinstance(task, Task):  # one that is not a task is skipped: no claim takes it
                task.attempts = reply[i + 2]
                out.append(task)
        return out

    # --- dead letters -------------------------------------------------------------
    async def dead_letters(self, query: DeadLetterQuery = _FIRST_PAGE) -> DeadLetterPage:
        """The default view pages in Redis; filters and other orders sort here, like memory's."""
        check(query)
        simple = not query.text and not query.error_kind and query.order_by == "dead_lettered_at"
        # the sorted set orders score ties by member (the task id): the rule's own tie-break
        offset, limit = window(query)
        args = (offset, limit, "1" if query.descending else "0", "0" if simple else "1")
        reply = await self._link.call(lua.DEAD_PAGE, self._k_dead_page, args)
        total, n_kinds = reply[0], reply[1]
        kinds = tuple(sorted(k.decode() for k in reply[2 : 2 + n_kinds]))
        records = [_dead(raw) for raw in reply[2 + n_kinds :]]
        if simple:
            return DeadLetterPage(tuple(records), total, total, kinds)
        return page_of(records, query)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        [raw] = await self._link.call(lua.GET_DEAD, self._k_get_dead, (task_id,))
        return None if raw is None else _dead(raw)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Back to the end of the queue (priority: the end of its level), history kept.

        Each dead letter is read, then moved by a script that checks it is still exactly
        what was read: moved once, or not at all if someone else moved it meanwhile.
        """
        moved = 0
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            raws = await self._link.call(lua.GET_DEAD, self._k_get_dead, chunk)
            args: list[Any] = [self._channel, self._fifo]
            for tid, raw in zip(chunk, raws, strict=True):
                if raw is None:
                    continue
                dead = _dead(raw)
                task = dead.task
                if reset_attempts:
                    task.attempts = 0
                args += (
                    tid,
                    raw,
                    task.to_json(),
                    task.attempts,
                    self._priority(task),
                    dead.error_kind,
                )
            if len(args) > 2:
                n = await self._link.mutate(lua.REPROCESS, self._k_reprocess, args)
                if n < 0:
                    raise self._other_discipline("fifo" if self._fifo == "0" else "priority")
                moved += n
        return moved

    async def discard(self, task_ids: Sequence[str]) -> int:
        gone = 0
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), CHUNK):
            gone += await self._link.mutate(
                lua.DISCARD, self._k_discard, ids[start : start + CHUNK]
            )
        return gone

    # --- tests and tools ----------------------------------------------------------
    async def purge(self) -> None:
        """Delete every key of this queue; outstanding receipts become void."""
        await self._link.call(lua.PURGE, self._keys.all(), ())

    # --- internals ----------------------------------------------------------------
    def _other_discipline(self, found: str) -> BackendError:
        return DisciplineMismatch(
            f"{self.url}: queue {self.name!r} is a {found} queue; open it with "
            f"discipline={found}, or use another queue name (or purge it first)",
            self.name,
            found,
        )

    def _to_local(self, server_time: float) -> float:
        return server_time - self._skew

    def _receipt(self, delivery: Delivery) -> Receipt:
        r = delivery.receipt
        if not isinstance(r, Receipt):
            raise self._lost(delivery)
        return r

    def _same_task(self, delivery: Delivery, r: Receipt) -> Task:
        if delivery.task.id != r.id:
            raise BackendError(
                f"{self.url}: delivery of {r.id!r} came back as task {delivery.task.id!r}"
            )
        return delivery.task

    def _lost(self, delivery: Delivery) -> LeaseLost:
        return LeaseLost(
            f"{self.url}: the lease on task {delivery.task.id!r} has run out or was "
            "taken over; its receipt is void"
        )


def _dead(raw: bytes) -> DeadLetter:
    return DeadLetter.from_dict(json.loads(raw))
