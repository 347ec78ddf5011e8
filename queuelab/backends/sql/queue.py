"""`SqlQueue`: the TaskQueue bookkeeping over a dialect's statements.

Leases: a claim stamps the row with a token and `lease_until`; the receipt is (row seq,
token). Every later step names both and checks the lease is still running by the queue's
clock, so a stale receipt changes nothing (`LeaseLost`). An expired lease needs no reaper:
the row is simply claimable again, in its old place in line (`ready_at` never moves while
a task is leased; see migration 0002).

Times are the client's wall clock (`time.time()`, or the `clock` option in tests), used
consistently for every statement, never the server's `now()`: `Delivery.lease_until` is
compared with `time.time()` by the engine, a fake clock can expire leases without sleeping,
and SQLite has no server clock anyway. The cost: processes on different machines must
keep their clocks in step (NTP's milliseconds are nothing against leases of seconds).

Throughput: concurrent claims (and acks) of one handle are coalesced into one statement
(`batch.Batcher`), and `max_tasks` (the scenario's `queue.batch`) claims many in one;
`ack_many` acks such a batch in one statement, and a batch's tasks are decoded together.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from queuelab.backends.base import (
    BackendError,
    Delivery,
    LeaseLost,
    QueueCounts,
    TaskQueue,
    lease_lost_many,
)
from queuelab.backends.sql import store as stores
from queuelab.backends.sql.batch import Batcher
from queuelab.backends.sql.config import SqlConfig
from queuelab.backends.sql.ops import Buried, NewTask
from queuelab.core.dead_letter_query import check, payload_text
from queuelab.core.task import (
    DeadLetter,
    DeadLetterPage,
    DeadLetterQuery,
    Task,
    UndecodableTask,
)
from queuelab.core.undecodable import try_decode, undecodable

#: lease tokens: random per process, then counting, so two processes never share one
_TOKENS = itertools.count(secrets.randbits(60))

_FIRST_PAGE = DeadLetterQuery()
_UNKNOWN: Any = object()  # next_due not read yet
_MAX_CLAIM = 1000  # rows one claim statement takes at most
_MAX_ACK = 5000  # receipts one ack_many statement carries (more, if a single call has more)


class SqlQueue(TaskQueue):
    """A queue in a SQLite file or a PostgreSQL database; see the package docstring."""

    def __init__(self, config: SqlConfig) -> None:
        self.url = config.shown
        self.name = config.queue
        self.discipline = config.discipline
        self._config = config
        self._clock = config.clock
        self._store: stores.Store | None = None
        self._claims: dict[float, Batcher[int, list[Delivery]]] = {}
        self._acks: Batcher[tuple[int, int, float], bool] = Batcher(self._ack_batch)
        self._batch_acks: Batcher[list[tuple[int, int, float]], list[bool]] = Batcher(
            self._ack_batches
        )

    # --- life cycle ---------------------------------------------------------------
    async def open(self) -> None:
        """Connect, and create or upgrade the schema if needed. Idempotent."""
        if self._store is None:
            store = await stores.acquire(self._config)
            if self._store is None:
                self._store = store
                self._acks = Batcher(self._ack_batch, flights=store.ops.ack_flights)
                self._batch_acks = Batcher(
                    self._ack_batches,
                    flights=store.ops.ack_flights,
                    max_batch=_MAX_ACK,
                    size=len,
                )
            else:  # opened twice at once
                await stores.release(store)

    async def close(self) -> None:
        """Release this handle's share of the connections; leased tasks stay leased."""
        store, self._store = self._store, None
        if store is None:
            return
        batchers: list[Batcher[Any, Any]] = [*self._claims.values(), self._acks, self._batch_acks]
        for batcher in batchers:
            await batcher.drain()
        self._claims.clear()
        await stores.release(store)

    async def _opened(self) -> stores.Store:
        if self._store is None:
            await self.open()
        assert self._store is not None
        return self._store

    # --- producing ----------------------------------------------------------------
    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        await self._insert([task], delay)

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        """One statement: all the tasks or, if any id is already held, none of them."""
        batch = list(tasks)
        if batch:
            await self._insert(batch, 0.0)

    async def _insert(self, tasks: list[Task], delay: float) -> None:
        store = await self._opened()
        rows: list[NewTask] = [(t.id, t.priority, t.attempts, t.to_json()) for t in tasks]

        async def op(conn: Any, retried: bool) -> None:
            now = self._clock()
            try:
                await store.ops.enqueue(conn, self.name, rows, now + delay, now)
            except Exception as exc:
                if not store.ops.duplicate(exc):
                    raise
                if retried:  # the lost reply was of our own insert: it is there
                    return
                which = f"task {tasks[0].id!r} is" if len(tasks) == 1 else "a task id is"
                raise BackendError(
                    f"{self.url}: {which} already in queue {self.name!r} (nothing was added)"
                ) from None

        await store.run(store.write, op)
        self._wake(store, len(rows))

    # --- consuming ----------------------------------------------------------------
    async def claim(
        self, lease: float, *, max_tasks: int = 1, timeout: float | None = 0.0
    ) -> list[Delivery]:
        if not lease > 0 or max_tasks < 1:
            raise ValueError(f"claim needs lease > 0 and max_tasks >= 1 ({lease}, {max_tasks})")
        store = await self._opened()
        listening = store.listening
        got = await self._claim_now(lease, max_tasks)
        if got or (timeout is not None and timeout <= 0):
            return got
        loop = asyncio.get_running_loop()
        deadline = math.inf if timeout is None else loop.time() + timeout
        if store.notifies and not listening:
            await store.listen()  # then look once more: a NOTIFY may have come before it
            if got := await self._claim_now(lease, max_tasks):
                return got
        while True:
            pause = min(deadline - loop.time(), self._config.poll_interval)
            if pause <= 0:
                return []
            due = store.next_due.get(self.name, _UNKNOWN)
            if due is _UNKNOWN or (due is not None and due <= self._clock()):
                due = await self._read(
                    lambda ops, conn: ops.next_due(conn, self.name, self._clock())
                )
                store.next_due[self.name] = due
            if due is not None:
                pause = min(pause, max(0.0, due - self._clock()) + 0.001)
            await store.wait(self.name, pause)
            if self._store is not store:  # closed meanwhile
                return []
            if got := await self._claim_now(lease, max_tasks):
                return got

    async def _claim_now(self, lease: float, max_tasks: int) -> list[Delivery]:
        batcher = self._claims.get(lease)
        if batcher is None:
            store = await self._opened()
            batcher = self._claims[lease] = Batcher(
                partial(self._claim_batch, lease),
                flights=store.ops.claim_flights,
                max_batch=_MAX_CLAIM,
                size=lambda n: n,
                orphans=self._release,
            )
        if max_tasks <= _MAX_CLAIM:
            return await batcher(max_tasks)
        [claimed] = await self._claim_batch(lease, [max_tasks])  # past a batch: its own statement
        return claimed

    async def _claim_batch(self, lease: float, wants: list[int]) -> list[list[Delivery]]:
        """One statement for several claimers; each gets its share in claim order.

        Rows whose body is not a task are dead-lettered on the spot (`core.undecodable`)
        and their places claimed again, so claimers get the tasks that do decode.
        """
        store = await self._opened()
        token = next(_TOKENS)
        total = sum(wants)

        async def op(conn: Any, _retried: bool) -> tuple[list[Sequence[Any]], float]:
            # a retry keeps the token: rows a lost reply had leased stay leased until expiry
            now = self._clock()
            until = now + lease
            rows = await store.ops.claim(conn, self.name, self.discipline, now, n, token, until)
            return rows, until

        deliveries: list[Delivery] = []
        n = total
        while n > 0:
            rows, until = await store.run(store.claims, op)
            if self.discipline == "priority":
                rows = sorted(rows, key=lambda r: (-r[1], r[2], r[0]))
            else:
                rows = sorted(rows, key=lambda r: (r[2], r[0]))
            buried = 0
            for r, task in zip(rows, _claimed_tasks(rows), strict=True):
                if isinstance(task, Task):
                    deliveries.append(Delivery(task, (r[0], token), until))
                else:
                    await self._bury(store, r[0], token, r[4], task)
                    buried += 1
            n = buried if len(rows) == n else 0  # a short claim found no more rows
        out, start = [], 0
        for want in wants:
            out.append(deliveries[start : start + want])
            start += want
        return out

    async def _bury(
        self, store: stores.Store, seq: int, token: int, text: str, why: UndecodableTask
    ) -> None:
        """Dead-letter a claimed row whose body did not decode (see `core.undecodable`)."""

        async def op(conn: Any, _retried: bool) -> None:
            task_id = await store.ops.id_of(conn, seq, token)
            if task_id is None:  # a retry after our own lost reply: already buried
                return
            dead = undecodable(text, task_id, why)
            buried = Buried(
                0.0, dead.error_kind, dead.error, dead.dead_lettered_at,
                payload_text(dead.task.payload), dead.task.to_json(),
            )  # fmt: skip
            await store.ops.dead_letter(conn, self.name, seq, token, self._clock(), buried)

        await store.run(store.write, op)

    async def _release(self, orphaned: list[list[Delivery]]) -> None:
        """Claims whose claimer was cancelled go back as if never claimed."""
        lost = [d for group in orphaned for d in group]
        if not lost:
            return
        store = await self._opened()
        token = lost[0].receipt[1]  # type: ignore[index]
        seqs = [d.receipt[0] for d in lost]  # type: ignore[index]
        await store.run(store.write, lambda conn, _: store.ops.release(conn, seqs, token))
        self._wake(store, len(seqs))

    async def ack(self, delivery: Delivery) -> None:
        seq, token = self._receipt(delivery)
        if not await self._acks((seq, token, delivery.lease_until)):
            raise self._lost(delivery)

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """The whole batch in one statement: a claimed batch acked one by one paid a
        coroutine, a future and a share of a statement per task."""
        receipts: list[tuple[int, int, float]] = []
        for d in deliveries:
            r = d.receipt
            if type(r) is tuple and len(r) == 2 and type(r[0]) is int and type(r[1]) is int:
                receipts.append((r[0], r[1], d.lease_until))
        void = len(deliveries) - len(receipts)  # not our receipts: void, as `ack` says
        if receipts:
            void += (await self._batch_acks(receipts)).count(False)
        if void:
            raise lease_lost_many(void, len(deliveries), self.url)

    async def _ack_batches(
        self, batches: list[list[tuple[int, int, float]]]
    ) -> list[list[bool]]:
        """Concurrent `ack_many` calls ride in one statement, as single acks do."""
        done = await self._ack_batch([r for batch in batches for r in batch])
        out, start = [], 0
        for batch in batches:
            out.append(done[start : start + len(batch)])
            start += len(batch)
        return out

    async def _ack_batch(self, receipts: list[tuple[int, int, float]]) -> list[bool]:
        store = await self._opened()
        first = self._clock()

        async def op(conn: Any, retried: bool) -> set[tuple[int, int]]:
            now = self._clock()
            gone: set[tuple[int, int]] = set()
            for layer in _distinct_seqs([(seq, token) for seq, token, _ in receipts]):
                token_of = dict(layer)
                gone |= {(s, token_of[s]) for s in await store.ops.ack(conn, layer, now)}
            if retried:  # a lost reply may have been our delete: a row gone is then acked
                unsure = {
                    (seq, token): until
                    for seq, token, until in receipts
                    if (seq, token) not in gone and until > first
                }
                if unsure:
                    present = await store.ops.present(conn, [seq for seq, _ in unsure])
                    gone |= {r for r in unsure if r[0] not in present}
            return gone

        gone = await store.run(store.write, op)
        out = []
        for seq, token, _ in receipts:  # the same receipt twice: only one ack counts
            out.append((seq, token) in gone)
            gone.discard((seq, token))
        return out

    async def nack(self, delivery: Delivery, delay: float = 0.0) -> None:
        seq, token = self._receipt(delivery)
        store = await self._opened()
        text = delivery.task.to_json()

        async def op(conn: Any, retried: bool) -> bool:
            now = self._clock()
            if await store.ops.nack(conn, self.name, seq, token, now, now + delay, text):
                return True
            if retried:  # a nack whose reply was lost has moved the row to a new seq
                now_seq = await store.ops.seq_of(conn, self.name, delivery.task.id)
                return now_seq is not None and now_seq != seq
            return False

        if not await store.run(store.write, op):
            raise self._lost(delivery)
        self._wake(store, 1)

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str, at: float) -> None:
        seq, token = self._receipt(delivery)
        store = await self._opened()
        task = delivery.task
        buried = Buried(
            task.created_at, error_kind, error, at, payload_text(task.payload), task.to_json()
        )

        async def op(conn: Any, retried: bool) -> bool:
            if await store.ops.dead_letter(conn, self.name, seq, token, self._clock(), buried):
                return True
            return retried and await store.ops.is_dead(conn, self.name, task.id)

        if not await store.run(store.write, op):
            raise self._lost(delivery)

    async def extend(self, delivery: Delivery, lease: float) -> None:
        """Renew the lease from now; `delivery.lease_until` is updated in place."""
        seq, token = self._receipt(delivery)
        store = await self._opened()

        async def op(conn: Any, _retried: bool) -> float | None:
            now = self._clock()
            until = now + lease
            ok = await store.ops.extend(conn, seq, token, now, until)
            return until if ok else None

        until = await store.run(store.write, op)
        if until is None:
            raise self._lost(delivery)
        delivery.lease_until = until

    # --- looking ------------------------------------------------------------------
    async def counts(self) -> QueueCounts:
        ready, delayed, leased, dead = await self._read(
            lambda ops, conn: ops.counts(conn, self.name, self._clock())
        )
        return QueueCounts(ready=ready, delayed=delayed, leased=leased, dead=dead)

    async def peek(self, n: int = 1) -> list[Task]:
        if n < 1:
            return []
        rows = await self._read(
            lambda ops, conn: ops.peek(conn, self.name, self.discipline, self._clock(), n)
        )
        return [t for attempts, text in rows if isinstance(t := _decoded(text, attempts), Task)]

    # --- dead letters -------------------------------------------------------------
    async def dead_letters(self, query: DeadLetterQuery = _FIRST_PAGE) -> DeadLetterPage:
        check(query)
        rows, matching, total, kinds = await self._read(
            lambda ops, conn: ops.dead_letter_page(conn, self.name, query)
        )
        return DeadLetterPage(tuple(_dead(r) for r in rows), matching, total, tuple(kinds))

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        row = await self._read(lambda ops, conn: ops.get_dead_letter(conn, self.name, task_id))
        return None if row is None else _dead(row)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Back to the end of the queue, each move atomic, history kept."""
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return 0
        store = await self._opened()
        moved = await store.run(
            store.write,
            lambda conn, _: store.ops.reprocess(
                conn, self.name, ids, self._clock(), reset_attempts
            ),
        )
        self._wake(store, moved)
        return moved

    async def discard(self, task_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return 0
        store = await self._opened()
        return await store.run(store.write, lambda conn, _: store.ops.discard(conn, self.name, ids))

    # --- tests and tools ----------------------------------------------------------
    async def purge(self) -> None:
        """Delete this queue's tasks and dead letters (other queues in the database stay)."""
        store = await self._opened()
        await store.run(store.write, lambda conn, _: store.ops.purge(conn, self.name))

    # --- internals ----------------------------------------------------------------
    async def _read(self, step: Any) -> Any:
        store = await self._opened()
        return await store.run(store.read, lambda conn, _: step(store.ops, conn))

    def _wake(self, store: stores.Store, n: int) -> None:
        """SQLite: wake claimers of this process (PostgreSQL's statements NOTIFY instead)."""
        if n and not store.notifies:
            store.wake(self.name, n)

    def _receipt(self, delivery: Delivery) -> tuple[int, int]:
        receipt = delivery.receipt
        if (
            not isinstance(receipt, tuple)
            or len(receipt) != 2
            or not all(isinstance(x, int) for x in receipt)
        ):
            raise self._lost(delivery)
        return receipt

    def _lost(self, delivery: Delivery) -> LeaseLost:
        return LeaseLost(
            f"{self.url}: the lease on task {delivery.task.id!r} has run out or was taken "
            "over; its receipt is void"
        )


def _distinct_seqs(receipts: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Receipts split so no statement names a row twice (a stale receipt and the fresh one
    of the same row can meet in one batch); nearly always one list."""
    if len({seq for seq, _ in receipts}) == len(receipts):
        return [receipts]  # the usual case, without the per-receipt loop below
    layers: list[list[tuple[int, int]]] = []
    seen: list[set[int]] = []
    for receipt in receipts:
        for layer, names in zip(layers, seen, strict=True):
            if receipt[0] not in names:
                layer.append(receipt)
                names.add(receipt[0])
                break
        else:
            layers.append([receipt])
            seen.append({receipt[0]})
    return layers


def _task(text: str, attempts: int) -> Task:
    task = Task.from_json(text)
    task.attempts = attempts  # the column is the truth: claims count there
    return task


def _decoded(text: str, attempts: int) -> Task | UndecodableTask:
    task = try_decode(text)
    if isinstance(task, Task):
        task.attempts = attempts  # the column is the truth: claims count there
    return task


def _claimed_tasks(rows: Sequence[Sequence[Any]]) -> list[Task | UndecodableTask]:
    """The tasks of claimed rows, decoded by one `json.loads` for the whole batch: per-row
    calls cost half as much again, and at batch sizes the decoding is the claim's main
    client-side cost. Every text should be one JSON object written by `Task.to_json`;
    should one not be, the rows are decoded one by one, each to its task or the reason it
    is none."""
    if len(rows) > 1:
        try:
            dicts = json.loads("[" + ",".join([r[4] for r in rows]) + "]")
        except (ValueError, RecursionError):
            dicts = None
        if type(dicts) is list and len(dicts) == len(rows):
            from_dict = Task.from_dict
            out: list[Task | UndecodableTask] = []
            try:
                for r, d in zip(rows, dicts, strict=True):
                    if type(d) is not dict:
                        break
                    d["attempts"] = r[3]  # the column is the truth: claims count there
                    out.append(from_dict(d))
                else:
                    return out
            except UndecodableTask:
                pass
    return [_decoded(r[4], r[3]) for r in rows]


def _dead(row: Sequence[Any]) -> DeadLetter:
    error_kind, error, at, attempts, text = row
    return DeadLetter(_task(text, attempts), error_kind, error, float(at))
