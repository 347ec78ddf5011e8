"""The TaskQueue contract: one suite of bookkeeping rules every backend must keep.

How a backend joins (see `conftest.py`): add `BackendSpec`s for its URL(s) to `BACKENDS`
there, then a test module with

    class TestRedisContract(QueueContract):
        backend = "redis"

`conftest.pytest_generate_tests` runs every test of the class once per spec of that
backend. A spec states what the backend can honestly promise (priority order, how short a
lease or retry delay it honours, whether a dead worker's lease ends by time or by its
connection closing), and the tests adapt to it instead of being skipped.

Time: with `fake_clock` the suite hands the backend `clock=CONTRACT_CLOCK` and moves that
clock instead of sleeping; otherwise it sleeps real seconds, so keep granularities small.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from queuelab.backends import open_queue
from queuelab.backends.base import Delivery, LeaseLost, QueueCounts, TaskQueue
from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import Attempt, DeadLetterQuery, Outcome, Task

from .. import dead_letter_cases as cases


class FakeClock:
    """Wall-clock seconds that only move when told to; one per process (see `BackendSpec`)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: Shared by every fake-clock spec: a named in-process store keeps the clock it was opened
#: with, so each test must hand it the very same clock object.
CONTRACT_CLOCK = FakeClock()


@dataclass(frozen=True)
class BackendSpec:
    """One URL the contract suite runs against, and what its backend can promise."""

    backend: str  # the `backend` attribute of the test class that runs this spec
    url: str
    id: str  # the test id suffix
    discipline: str = "fifo"  # "priority": higher task.priority is claimed first
    lease_granularity: float = 1.0  # the shortest lease (s) that reliably runs out
    delay_granularity: float = 1.0  # the shortest retry delay (s) that is reliably honoured
    # "time": a lease runs out at lease_until; "disconnect": a broker only redelivers once
    # the dead consumer's connection closes (the suite then closes it to play the crash)
    lease_expiry: str = "time"
    fake_clock: bool = False  # takes `clock=`; the suite moves time instead of sleeping
    wake_latency: float = 1.0  # how soon (s) a waiting claimer must see new work
    # tasks of the many-worker tests; fewer where the test server's every call takes time
    # in proportion to the queue's length (moto's SQS), so that 2000 would take many minutes
    load_tasks: int = 2000
    batch_cap: int = 1000  # the most one claim round trip takes (SQL's and Redis's 1000)
    options: Mapping[str, Any] = field(default_factory=dict)  # more `open_queue` keywords
    marks: tuple[Any, ...] = ()  # e.g. (pytest.mark.redis,)

    def open(self) -> TaskQueue:
        extra = {"clock": CONTRACT_CLOCK} if self.fake_clock else {}
        return open_queue(self.url, **extra, **self.options)

    def now(self) -> float:
        return CONTRACT_CLOCK() if self.fake_clock else time.time()


def task(n: int | str, priority: int = 0, **payload: Any) -> Task:
    return Task(id=f"t{n}", payload={"n": n, **payload}, priority=priority, created_at=1.0)


def ids(items: list[Delivery] | list[Task]) -> list[str]:
    return [x.task.id if isinstance(x, Delivery) else x.id for x in items]


async def expect_counts(
    queue: TaskQueue, ready: int = 0, delayed: int = 0, leased: int = 0, dead: int = 0
) -> None:
    """The counts are these - at once, or within the lag the backend declares
    (`TaskQueue.counts_lag`: JetStream applies acks asynchronously)."""
    want = QueueCounts(ready, delayed, leased, dead)
    # (the simulator's queue, run under this contract too, is no TaskQueue: no lag)
    deadline = time.monotonic() + getattr(queue, "counts_lag", 0.0)
    got = await queue.counts()
    while got != want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        got = await queue.counts()
    assert got == want


class QueueContract:
    """Every rule of `TaskQueue`, checked against `spec` (one test per rule)."""

    backend: ClassVar[str]

    # --- fixtures and helpers ------------------------------------------------------
    @pytest_asyncio.fixture
    async def queue(self, spec: BackendSpec) -> AsyncIterator[TaskQueue]:
        q = spec.open()
        await q.open()
        await q.purge()
        try:
            yield q
        finally:
            await q.close()
            cleanup = spec.open()  # a fresh handle: the test may have closed `q`
            await cleanup.open()
            await cleanup.purge()
            await cleanup.close()

    @pytest_asyncio.fixture
    async def other(self, spec: BackendSpec, queue: TaskQueue) -> AsyncIterator[TaskQueue]:
        """A second handle on the same queue, as another worker process would hold."""
        q = spec.open()
        await q.open()
        try:
            yield q
        finally:
            await q.close()

    async def pass_time(self, spec: BackendSpec, queue: TaskQueue, seconds: float) -> None:
        """Let `seconds` of queue time pass (a fake clock's jump is seen at the next call)."""
        if spec.fake_clock:
            CONTRACT_CLOCK.advance(seconds)
            await queue.counts()
        else:
            await asyncio.sleep(seconds)

    async def crash(self, spec: BackendSpec, worker: TaskQueue, queue: TaskQueue) -> None:
        """The worker holding a lease of `spec.lease_granularity` dies and its lease ends."""
        if spec.lease_expiry == "disconnect":
            await worker.close()
        else:
            await self.pass_time(spec, queue, spec.lease_granularity * 1.5 + 0.05)

    def redelivery_wait(self, spec: BackendSpec) -> float:
        return spec.wake_latency + spec.lease_granularity * 2

    # --- order ---------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_fifo_within_a_priority_level(self, queue: TaskQueue) -> None:
        for n in range(10):
            await queue.enqueue(task(n))
        got = [(await queue.claim(30.0))[0] for _ in range(4)]
        got += await queue.claim(30.0, max_tasks=10)
        assert ids(got) == [f"t{n}" for n in range(10)]

    @pytest.mark.asyncio
    async def test_discipline_order(self, spec: BackendSpec, queue: TaskQueue) -> None:
        prios = [1, 5, 1, 3, 5, 0, 3]
        for n, p in enumerate(prios):
            await queue.enqueue(task(n, priority=p))
        if spec.discipline == "priority":  # higher first, oldest first within a level
            expected = ["t1", "t4", "t3", "t6", "t0", "t2", "t5"]
        else:
            expected = [f"t{n}" for n in range(len(prios))]
        assert ids(await queue.peek(len(prios))) == expected
        assert ids(await queue.claim(30.0, max_tasks=3)) == expected[:3]
        assert ids([(await queue.claim(30.0))[0] for _ in range(4)]) == expected[3:]

    @pytest.mark.asyncio
    async def test_enqueue_many(self, queue: TaskQueue) -> None:
        await queue.enqueue_many(task(n) for n in range(100))
        await expect_counts(queue, ready=100)
        got = await queue.claim(30.0, max_tasks=100)
        assert ids(got) == [f"t{n}" for n in range(100)]
        await queue.enqueue_many([])
        await expect_counts(queue, leased=100)

    @pytest.mark.asyncio
    async def test_claim_max_tasks(self, queue: TaskQueue) -> None:
        await queue.enqueue_many(task(n) for n in range(5))
        assert len(await queue.claim(30.0, max_tasks=3)) == 3
        assert len(await queue.claim(30.0, max_tasks=3)) == 2
        assert await queue.claim(30.0, max_tasks=3) == []
        await expect_counts(queue, leased=5)

    @pytest.mark.asyncio
    async def test_claim_above_the_batch_cap(self, spec: BackendSpec, queue: TaskQueue) -> None:
        """A claim larger than the backend's per-round-trip cap (`spec.batch_cap`) is honoured
        or trimmed, never refused: the oldest tasks, each once, all leased."""
        n, want = spec.batch_cap + 200, spec.batch_cap + 1
        await queue.enqueue_many(task(i) for i in range(n))
        got = await queue.claim(30.0, max_tasks=want)
        assert 1 <= len(got) <= want
        assert ids(got) == [f"t{i}" for i in range(len(got))]
        await expect_counts(queue, ready=n - len(got), leased=len(got))
        await queue.ack_many(got)
        assert ids(await queue.claim(30.0)) == [f"t{len(got)}"]  # the acked never come back

    @pytest.mark.asyncio
    async def test_task_round_trips(self, spec: BackendSpec, queue: TaskQueue) -> None:
        sent = Task(
            "rt",
            payload={"x": [1, 2.5, None], "s": "é ✓"},
            priority=2,
            created_at=12.25,
            poison=True,
        )
        await queue.enqueue(sent)
        before = spec.now()
        [d] = await queue.claim(45.0)
        t = d.task
        assert (t.id, t.payload, t.priority, t.created_at, t.poison, t.attempts) == (
            "rt",
            {"x": [1, 2.5, None], "s": "é ✓"},
            2,
            12.25,
            True,
            1,
        )
        assert before + 45.0 - 1.0 <= d.lease_until <= spec.now() + 45.0 + 1.0

    # --- waiting -------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_claim_without_work(self, spec: BackendSpec, queue: TaskQueue) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await queue.claim(30.0, timeout=0.0) == []
        assert loop.time() - start < spec.wake_latency
        start = loop.time()
        assert await queue.claim(30.0, timeout=0.2) == []
        assert 0.18 <= loop.time() - start < 0.2 + spec.wake_latency

    @pytest.mark.asyncio
    @pytest.mark.parametrize("timeout", [5.0, None])
    async def test_waiting_claimer_wakes_on_enqueue(
        self, spec: BackendSpec, queue: TaskQueue, other: TaskQueue, timeout: float | None
    ) -> None:
        loop = asyncio.get_running_loop()
        waiter = asyncio.create_task(queue.claim(30.0, timeout=timeout))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        sent = loop.time()
        await other.enqueue(task(1))
        got = await asyncio.wait_for(waiter, spec.wake_latency + 1.0)
        assert ids(got) == ["t1"]
        assert loop.time() - sent < spec.wake_latency

    @pytest.mark.asyncio
    async def test_waiting_claimers_share_a_burst(self, queue: TaskQueue) -> None:
        waiters = [asyncio.create_task(queue.claim(30.0, timeout=5.0)) for _ in range(3)]
        await asyncio.sleep(0.05)
        await queue.enqueue_many(task(n) for n in range(3))
        got = await asyncio.wait_for(asyncio.gather(*waiters), 5.0)
        assert sorted(i for g in got for i in ids(g)) == ["t0", "t1", "t2"]

    @pytest.mark.asyncio
    async def test_waiting_claimer_wakes_when_a_retry_is_due(
        self, spec: BackendSpec, queue: TaskQueue
    ) -> None:
        await queue.enqueue(task(1))
        [d] = await queue.claim(30.0)
        waiter = asyncio.create_task(queue.claim(30.0, timeout=None))
        await asyncio.sleep(0.05)
        await queue.nack(d, delay=spec.delay_granularity)
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await self.pass_time(spec, queue, spec.delay_granularity * 1.5)
        got = await asyncio.wait_for(waiter, spec.wake_latency + spec.delay_granularity + 1.0)
        assert ids(got) == ["t1"] and got[0].task.attempts == 2

    @pytest.mark.asyncio
    async def test_waiting_claimer_wakes_when_a_lease_runs_out(
        self, spec: BackendSpec, queue: TaskQueue, other: TaskQueue
    ) -> None:
        await queue.enqueue(task(1))
        [d1] = await other.claim(spec.lease_granularity)
        waiter = asyncio.create_task(queue.claim(30.0, timeout=None))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await self.crash(spec, other, queue)
        got = await asyncio.wait_for(waiter, self.redelivery_wait(spec) + 1.0)
        assert ids(got) == ["t1"] and got[0].task.attempts == 2
        assert got[0].receipt != d1.receipt

    # --- leases --------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_expired_lease_redelivers(
        self, spec: BackendSpec, queue: TaskQueue, other: TaskQueue
    ) -> None:
        await queue.enqueue(task(1))
        [d1] = await other.claim(spec.lease_granularity)
        assert d1.task.attempts == 1
        await expect_counts(queue, leased=1)
        assert await queue.claim(30.0) == []  # still leased
        await self.crash(spec, other, queue)
        [d2] = await queue.claim(30.0, timeout=self.redelivery_wait(spec))
        assert d2.task.id == "t1" and d2.task.attempts == 2
        await expect_counts(queue, leased=1)

    @pytest.mark.asyncio
    async def test_stale_receipt_cannot_touch_the_new_claim(
        self, spec: BackendSpec, queue: TaskQueue, other: TaskQueue
    ) -> None:
        await queue.enqueue(task(1))
        [stale] = await other.claim(spec.lease_granularity)
        await self.crash(spec, other, queue)
        [fresh] = await queue.claim(30.0, timeout=self.redelivery_wait(spec))
        with pytest.raises(LeaseLost):
            await other.ack(stale)
        with pytest.raises(LeaseLost, match="1 of 1"):
            await other.ack_many([stale])
        with pytest.raises(LeaseLost):
            await other.nack(stale, 0.0)
        with pytest.raises(LeaseLost):
            await other.dead_letter(stale, "E", "late", at=1.0)
        if spec.lease_expiry == "time":
            with pytest.raises(LeaseLost):
                await other.extend(stale, 30.0)
        await expect_counts(queue, leased=1)
        await queue.ack(fresh)
        await expect_counts(queue)

    @pytest.mark.asyncio
    async def test_extend_keeps_the_lease(
        self, spec: BackendSpec, queue: TaskQueue, other: TaskQueue
    ) -> None:
        if spec.lease_expiry != "time":
            pytest.skip("leases end by disconnect, not by time")
        await queue.enqueue(task(1))
        [d] = await queue.claim(spec.lease_granularity)
        await queue.extend(d, 60.0)
        assert d.lease_until >= spec.now() + 59.0
        await self.pass_time(spec, queue, spec.lease_granularity * 1.5 + 0.05)
        assert await other.claim(30.0) == []
        await expect_counts(queue, leased=1)
        await queue.ack(d)
        await expect_counts(queue)

    @pytest.mark.asyncio
    async def test_ack_removes_for_good(self, queue: TaskQueue) -> None:
        await queue.enqueue_many([task(1), task(2)])
        [d] = await queue.claim(30.0)
        await queue.ack(d)
        await expect_counts(queue, ready=1)
        with pytest.raises(LeaseLost):
            await queue.ack(d)
        with pytest.raises(LeaseLost):
            await queue.nack(d)
        assert ids(await queue.claim(30.0, max_tasks=5)) == ["t2"]
        assert await queue.claim(30.0) == []

    @pytest.mark.asyncio
    async def test_ack_many_removes_a_batch(self, queue: TaskQueue) -> None:
        await queue.enqueue_many([task(n) for n in range(1, 5)])
        got = await queue.claim(30.0, max_tasks=3)
        await queue.ack_many(got)
        await queue.ack_many([])
        await expect_counts(queue, ready=1)
        assert ids(await queue.claim(30.0, max_tasks=5)) == ["t4"]

    @pytest.mark.asyncio
    async def test_ack_many_acks_the_held_and_counts_the_void(self, queue: TaskQueue) -> None:
        await queue.enqueue_many([task(n) for n in range(1, 5)])
        d1, d2, d3 = await queue.claim(30.0, max_tasks=3)
        await queue.ack(d1)
        with pytest.raises(LeaseLost, match="1 of 2"):
            await queue.ack_many([d1, d2])
        await expect_counts(queue, ready=1, leased=1)  # d2 was acked all the same
        with pytest.raises(LeaseLost, match="1 of 2"):  # listed twice: acked once
            await queue.ack_many([d3, d3])
        await expect_counts(queue, ready=1)
        with pytest.raises(LeaseLost):
            await queue.nack(d2)

    # --- retries -------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_nack_with_delay(self, spec: BackendSpec, queue: TaskQueue) -> None:
        await queue.enqueue(task(1))
        [d] = await queue.claim(30.0)
        await queue.nack(d, delay=spec.delay_granularity)
        await expect_counts(queue, delayed=1)
        assert await queue.claim(30.0) == []
        assert await queue.peek(5) == []
        await self.pass_time(spec, queue, spec.delay_granularity * 1.5)
        [again] = await queue.claim(30.0, timeout=spec.wake_latency)
        assert again.task.id == "t1" and again.task.attempts == 2
        await expect_counts(queue, leased=1)

    @pytest.mark.asyncio
    async def test_nack_without_delay_is_claimable_at_once(self, queue: TaskQueue) -> None:
        await queue.enqueue(task(1))
        [d] = await queue.claim(30.0)
        await queue.nack(d)
        await expect_counts(queue, ready=1)
        [again] = await queue.claim(30.0)
        assert again.task.attempts == 2

    @pytest.mark.asyncio
    async def test_enqueue_with_delay(self, spec: BackendSpec, queue: TaskQueue) -> None:
        await queue.enqueue(task(1), delay=spec.delay_granularity)
        await queue.enqueue(task(2))
        await expect_counts(queue, ready=1, delayed=1)
        assert ids(await queue.claim(30.0, max_tasks=5)) == ["t2"]
        await self.pass_time(spec, queue, spec.delay_granularity * 1.5)
        [d] = await queue.claim(30.0, timeout=spec.wake_latency)
        assert d.task.id == "t1" and d.task.attempts == 1

    @pytest.mark.asyncio
    async def test_nack_keeps_history(self, queue: TaskQueue) -> None:
        await queue.enqueue(task(1))
        [d] = await queue.claim(30.0)
        attempt = Attempt(
            number=1,
            started=1.5,
            ended=2.25,
            outcome=Outcome.FAILED,
            error_kind="ValueError",
            error="boom",
            backoff=0.5,
            worker="w-3",
        )
        d.task.history.append(attempt)
        await queue.nack(d)
        [again] = await queue.claim(30.0)
        assert again.task.history == [attempt]
        assert again.task.attempts == 2

    # --- dead letters --------------------------------------------------------------
    async def _bury(self, queue: TaskQueue) -> None:
        """Five dead letters, dead-lettered out of time order."""
        rows = [  # id, priority, created_at, error_kind, error, at, payload
            ("a", 1, 1.0, "ValueError", "bad value 42", 5.0, {}),
            ("b", 3, 2.0, "TimeoutError", "took too long", 3.0, {}),
            ("c", 2, 3.0, "ValueError", "negative amount", 9.0, {}),
            ("d", 5, 4.0, "KeyError", "missing key", 1.0, {"user": "alice"}),
            ("e", 4, 5.0, "ValueError", "bad value 7", 7.0, {}),
        ]
        await queue.enqueue_many(
            Task(r[0], payload=r[6], priority=r[1], created_at=r[2]) for r in rows
        )
        got = {d.task.id: d for d in await queue.claim(30.0, max_tasks=5)}
        for tid, _, _, kind, error, at, _ in rows:
            await queue.dead_letter(got[tid], kind, error, at=at)

    @pytest.mark.asyncio
    async def test_dead_letter_parks_the_task(self, queue: TaskQueue) -> None:
        await queue.enqueue(task(1, note="keep me"))
        [d] = await queue.claim(30.0)
        d.task.history.append(Attempt(1, 0.5, 0.75, Outcome.FAILED, "ValueError", "boom"))
        await queue.dead_letter(d, "ValueError", "boom", at=12.5)
        await expect_counts(queue, dead=1)
        assert await queue.claim(30.0) == []
        assert await queue.size() == 0
        dl = await queue.get_dead_letter("t1")
        assert dl is not None
        assert (dl.id, dl.error_kind, dl.error, dl.dead_lettered_at) == (
            "t1",
            "ValueError",
            "boom",
            12.5,
        )
        assert dl.task.payload == {"n": 1, "note": "keep me"} and dl.task.attempts == 1
        assert dl.task.history == [Attempt(1, 0.5, 0.75, Outcome.FAILED, "ValueError", "boom")]
        assert await queue.get_dead_letter("nope") is None
        with pytest.raises(LeaseLost):
            await queue.ack(d)
        with pytest.raises(LeaseLost):  # the spent receipt, even though the id is dead
            await queue.dead_letter(d, "ValueError", "again", at=13.0)
        await expect_counts(queue, dead=1)

    @pytest.mark.asyncio
    async def test_dead_letter_pages(self, queue: TaskQueue) -> None:
        await self._bury(queue)

        async def page(**q: Any) -> tuple[list[str], int, int]:
            p = await queue.dead_letters(DeadLetterQuery(**q))
            return [d.id for d in p.items], p.total_matching, p.total

        first = await queue.dead_letters()
        assert first.error_kinds == ("KeyError", "TimeoutError", "ValueError")
        assert await page() == (["d", "b", "a", "e", "c"], 5, 5)
        assert await page(descending=True) == (["c", "e", "a", "b", "d"], 5, 5)
        assert await page(text="bad value") == (["a", "e"], 2, 5)
        assert await page(text="BAD VALUE") == (["a", "e"], 2, 5)
        assert await page(text="alice") == (["d"], 1, 5)  # the payload is searched
        assert await page(text="timeout") == (["b"], 1, 5)  # and the error kind
        assert await page(error_kind="ValueError") == (["a", "e", "c"], 3, 5)
        assert await page(error_kind="ValueError", text="negative") == (["c"], 1, 5)
        assert await page(error_kind="NoSuchError") == ([], 0, 5)
        assert await page(order_by="id") == (["a", "b", "c", "d", "e"], 5, 5)
        assert await page(order_by="id", descending=True) == (["e", "d", "c", "b", "a"], 5, 5)
        assert await page(order_by="priority") == (["a", "c", "b", "e", "d"], 5, 5)
        assert await page(order_by="created_at") == (["a", "b", "c", "d", "e"], 5, 5)
        by_kind, _, _ = await page(order_by="error_kind")  # ties: any order
        assert by_kind[:2] == ["d", "b"] and sorted(by_kind[2:]) == ["a", "c", "e"]
        by_kind, _, _ = await page(order_by="error_kind", descending=True)
        assert sorted(by_kind[:3]) == ["a", "c", "e"] and by_kind[3:] == ["b", "d"]
        assert await page(offset=1, limit=2) == (["b", "a"], 5, 5)
        assert await page(offset=4, limit=10) == (["c"], 5, 5)
        assert await page(offset=9) == ([], 5, 5)
        assert await page(error_kind="ValueError", offset=1, limit=1) == (["e"], 3, 5)
        with pytest.raises(ValueError):
            await queue.dead_letters(DeadLetterQuery(order_by="payload; DROP TABLE"))

    @pytest.mark.asyncio
    async def test_dead_letter_query_is_the_core_rule(self, queue: TaskQueue) -> None:
        """The shared cases (tests/dead_letter_cases.py): every query answered as
        `core.dead_letter_query.page_of` answers it, as the simulator's store must too."""
        await queue.enqueue_many(cases.task(n) for n in range(1, cases.N + 1))
        claimed = await queue.claim(30.0, max_tasks=cases.N)
        assert len(claimed) == cases.N
        for d in claimed:
            n = int(d.task.id[1:])
            await queue.dead_letter(d, cases.kind(n), cases.message(n), at=cases.at(n))
        reference = cases.expected()
        for query in cases.QUERIES:
            got = cases.summary(await queue.dead_letters(query))
            assert got == cases.summary(page_of(reference, query)), query

    @pytest.mark.asyncio
    async def test_reprocess(self, queue: TaskQueue) -> None:
        await self._bury(queue)
        assert await queue.reprocess(["a", "c", "nope"]) == 2
        await expect_counts(queue, ready=2, dead=3)
        assert await queue.get_dead_letter("a") is None
        assert await queue.reprocess(["a"]) == 0  # no longer a dead letter: not moved twice
        got = await queue.claim(30.0, max_tasks=5)
        assert sorted(ids(got)) == ["a", "c"]
        assert all(d.task.attempts == 2 for d in got)  # attempts carry on
        assert (await queue.dead_letters()).total == 3

    @pytest.mark.asyncio
    async def test_reprocess_resetting_attempts_keeps_history(self, queue: TaskQueue) -> None:
        await queue.enqueue(task(1))
        [d] = await queue.claim(30.0)
        d.task.history.append(Attempt(1, 0.0, 1.0, Outcome.FAILED, "E", "first"))
        await queue.nack(d)
        [d] = await queue.claim(30.0)
        d.task.history.append(Attempt(2, 2.0, 3.0, Outcome.FAILED, "E", "second"))
        await queue.dead_letter(d, "E", "second", at=3.0)
        dl = await queue.get_dead_letter("t1")
        assert dl is not None and dl.task.attempts == 2
        assert await queue.reprocess(["t1"], reset_attempts=True) == 1
        await expect_counts(queue, ready=1)
        [d] = await queue.claim(30.0)
        assert d.task.attempts == 1
        assert [a.error for a in d.task.history] == ["first", "second"]

    @pytest.mark.asyncio
    async def test_discard(self, queue: TaskQueue) -> None:
        await self._bury(queue)
        assert await queue.discard(["b", "d", "nope"]) == 2
        assert await queue.discard(["b"]) == 0
        await expect_counts(queue, dead=3)
        assert [d.id for d in (await queue.dead_letters()).items] == ["a", "e", "c"]
        assert await queue.get_dead_letter("b") is None

    # --- looking -------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_peek_does_not_claim(self, queue: TaskQueue) -> None:
        assert await queue.peek() == []
        await queue.enqueue_many(task(n) for n in range(3))
        assert ids(await queue.peek()) == ["t0"]
        assert ids(await queue.peek(2)) == ["t0", "t1"]
        assert ids(await queue.peek(10)) == ["t0", "t1", "t2"]
        await expect_counts(queue, ready=3)
        [d] = await queue.claim(30.0)
        assert d.task.id == "t0" and d.task.attempts == 1
        assert ids(await queue.peek()) == ["t1"]

    @pytest.mark.asyncio
    async def test_size_counts_ready_and_delayed(self, spec: BackendSpec,
                                                 queue: TaskQueue) -> None:
        assert await queue.size() == 0
        await queue.enqueue(task(1))
        await queue.enqueue(task(2), delay=spec.delay_granularity * 100)
        assert await queue.size() == 2
        [d] = await queue.claim(30.0)
        assert d.task.id == "t1" and await queue.size() == 1  # a leased task is not waiting
        await queue.ack(d)
        assert await queue.size() == 1

    @pytest.mark.asyncio
    async def test_counts_add_up_at_every_step(self, spec: BackendSpec, queue: TaskQueue) -> None:
        held = 0  # enqueued - acked - discarded

        async def check(ready: int, delayed: int, leased: int, dead: int) -> None:
            c = await queue.counts()
            assert c == QueueCounts(ready, delayed, leased, dead)
            assert c.total == held

        far = spec.delay_granularity * 100
        await queue.enqueue_many(task(n) for n in range(6))
        held += 6
        await check(6, 0, 0, 0)
        a, b, c, d = await queue.claim(30.0, max_tasks=4)
        await check(2, 0, 4, 0)
        await queue.ack(a)
        held -= 1
        await check(2, 0, 3, 0)
        await queue.nack(b, delay=far)
        await check(2, 1, 2, 0)
        await queue.nack(c)
        await check(3, 1, 1, 0)
        await queue.dead_letter(d, "E", "x", at=1.0)
        await check(3, 1, 0, 1)
        await queue.enqueue(task(9), delay=far)
        held += 1
        await check(3, 2, 0, 1)
        assert await queue.reprocess([d.task.id]) == 1
        await check(4, 2, 0, 0)
        [e] = await queue.claim(30.0)
        await queue.dead_letter(e, "E", "y", at=2.0)
        await check(3, 2, 0, 1)
        assert await queue.discard([e.task.id]) == 1
        held -= 1
        await check(3, 2, 0, 0)
        [f] = await queue.claim(30.0)
        await queue.ack(f)
        held -= 1
        await check(2, 2, 0, 0)

    # --- many workers --------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_concurrent_workers_handle_each_task_once(
        self, spec: BackendSpec, queue: TaskQueue
    ) -> None:
        n = spec.load_tasks
        await queue.enqueue_many(task(i) for i in range(n))
        handled: list[str] = []

        async def worker() -> None:
            while got := await queue.claim(30.0, timeout=0.0):
                await asyncio.sleep(0)
                handled.append(got[0].task.id)
                await queue.ack(got[0])

        await asyncio.gather(*(worker() for _ in range(16)))
        assert len(handled) == n
        assert Counter(handled).most_common(1)[0][1] == 1
        await expect_counts(queue)

    @pytest.mark.asyncio
    async def test_waiting_workers_with_a_live_producer(
        self, spec: BackendSpec, queue: TaskQueue
    ) -> None:
        n, workers = spec.load_tasks // 2, 16
        handled: list[str] = []

        async def worker() -> None:
            while True:
                [d] = await queue.claim(30.0, timeout=None)
                await queue.ack(d)
                if d.task.payload.get("stop"):
                    return
                handled.append(d.task.id)

        pool = [asyncio.create_task(worker()) for _ in range(workers)]
        for i in range(n):
            await queue.enqueue(task(i))
            if i % 50 == 0:
                await asyncio.sleep(0)
        for i in range(workers):
            await queue.enqueue(task(f"stop{i}", stop=True))
        await asyncio.wait_for(asyncio.gather(*pool), 30.0)
        assert sorted(handled) == sorted(f"t{i}" for i in range(n))
        await expect_counts(queue)

    # --- life cycle ----------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_close_and_reopen(self, spec: BackendSpec, queue: TaskQueue) -> None:
        await queue.enqueue_many(task(n) for n in range(4))
        [d, dead] = await queue.claim(30.0, max_tasks=2)
        await queue.dead_letter(dead, "E", "x", at=1.0)
        await queue.close()
        await queue.close()  # closing twice is harmless
        async with spec.open() as again:
            if spec.lease_expiry == "disconnect":  # the closed consumer's lease came back
                await expect_counts(again, ready=3, dead=1)
            else:
                await expect_counts(again, ready=2, leased=1, dead=1)
                await again.ack(d)
            assert (await again.get_dead_letter("t1")) is not None

    @pytest.mark.asyncio
    async def test_purge_empties_everything(self, spec: BackendSpec, queue: TaskQueue) -> None:
        await queue.enqueue_many(task(n) for n in range(4))
        await queue.enqueue(task(9), delay=spec.delay_granularity * 100)
        a, b = await queue.claim(30.0, max_tasks=2)
        await queue.dead_letter(b, "E", "x", at=1.0)
        await queue.purge()
        await expect_counts(queue)
        assert (await queue.dead_letters()).total == 0
        with pytest.raises(LeaseLost):
            await queue.ack(a)
        await queue.enqueue(task(0))  # usable, and the ids are free again
        await expect_counts(queue, ready=1)
