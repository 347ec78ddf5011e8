"""memory://: the contract, plus what only the in-process queue promises."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from queuelab.backends import BackendError, open_queue
from queuelab.backends.base import Delivery, LeaseLost, QueueCounts
from queuelab.backends.memory import MemoryQueue
from queuelab.core.task import DeadLetterPage, Task

from .contract import FakeClock, QueueContract, expect_counts, ids, task


class TestMemoryContract(QueueContract):
    backend = "memory"


# --- the shared in-process store ---------------------------------------------------------
@pytest.mark.asyncio
async def test_a_name_opens_the_same_store_and_close_keeps_it() -> None:
    a = open_queue("memory://shared-store")
    b = open_queue("memory://shared-store/")
    other = open_queue("memory://shared-store-2")
    try:
        await a.enqueue(task(1))
        await a.close()
        await expect_counts(b, ready=1)
        await expect_counts(other)
        async with open_queue("memory:///shared-store") as again:
            assert ids(await again.peek()) == ["t1"]
        await expect_counts(b, ready=1)
        assert b.url == "memory://shared-store"
    finally:
        await b.purge()
    await expect_counts(a)


def test_the_unnamed_store_is_called_default() -> None:
    assert open_queue("memory://") is open_queue("memory:///default")
    assert open_queue("memory://?discipline=fifo").name == "default"  # type: ignore[attr-defined]


def test_options_are_checked() -> None:
    with pytest.raises(BackendError, match="discipline must be one of fifo, priority"):
        open_queue("memory://opt-bad?discipline=lifo")
    with pytest.raises(BackendError, match=r"does not know the option.*disciplin"):
        open_queue("memory://opt-typo?disciplin=priority")
    prio = open_queue("memory://opt-prio?discipline=priority")
    assert prio.discipline == "priority"  # type: ignore[attr-defined]
    assert open_queue("memory://opt-prio") is prio  # no discipline given: the store's own
    assert open_queue("memory://opt-prio?discipline=fifo") is prio  # the newest rules win
    assert prio.discipline == "fifo"  # type: ignore[attr-defined]
    # keyword options win over the query string
    kw = open_queue("memory://opt-kw?discipline=priority", discipline="fifo")
    assert kw.discipline == "fifo"  # type: ignore[attr-defined]
    clocked = open_queue("memory://opt-clock", clock=FakeClock())
    with pytest.raises(BackendError, match="another clock"):
        open_queue("memory://opt-clock", clock=FakeClock())
    assert open_queue("memory://opt-clock") is clocked


# --- waiting without polling -------------------------------------------------------------
@pytest.mark.asyncio
async def test_timer_wakes_a_waiter_when_a_retry_falls_due() -> None:
    q = MemoryQueue()  # the real clock: nobody nudges the queue, only its timer can
    await q.enqueue(task(1))
    [d] = await q.claim(30.0)
    loop = asyncio.get_running_loop()
    waiter = asyncio.create_task(q.claim(30.0, timeout=3.0))
    await asyncio.sleep(0.01)
    start = loop.time()
    await q.nack(d, delay=0.15)
    got = await waiter
    assert ids(got) == ["t1"]
    assert 0.13 <= loop.time() - start < 1.0


@pytest.mark.asyncio
async def test_timer_wakes_a_waiter_when_a_lease_runs_out() -> None:
    q = MemoryQueue()
    await q.enqueue(task(1))
    loop = asyncio.get_running_loop()
    start = loop.time()
    [d1] = await q.claim(0.15)
    [d2] = await q.claim(30.0, timeout=3.0)
    assert d2.task.id == "t1" and d2.task.attempts == 2
    assert 0.13 <= loop.time() - start < 1.0
    with pytest.raises(LeaseLost):
        await q.ack(d1)


@pytest.mark.asyncio
async def test_an_idle_waiter_arms_no_timer() -> None:
    q = MemoryQueue()
    waiter = asyncio.create_task(q.claim(30.0, timeout=None))
    await asyncio.sleep(0.01)
    assert q._timer is None  # nothing due: it sleeps until an enqueue wakes it
    await q.enqueue(task(1))
    assert ids(await asyncio.wait_for(waiter, 1.0)) == ["t1"]


@pytest.mark.asyncio
async def test_a_cancelled_waiter_passes_its_wake_up_on() -> None:
    q = MemoryQueue()
    first = asyncio.create_task(q.claim(30.0, timeout=None))
    second = asyncio.create_task(q.claim(30.0, timeout=None))
    await asyncio.sleep(0.01)
    await q.enqueue(task(1))  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it can run
    assert ids(await asyncio.wait_for(second, 1.0)) == ["t1"]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not q._waiters


# --- leases --------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_lease_is_void_at_its_deadline_even_before_a_re_claim() -> None:
    clock = FakeClock()
    q = MemoryQueue(clock=clock)
    await q.enqueue(task(1))
    [d] = await q.claim(5.0)
    clock.advance(5.0)
    with pytest.raises(LeaseLost):
        await q.ack(d)
    with pytest.raises(LeaseLost):
        await q.nack(d)
    with pytest.raises(LeaseLost):
        await q.extend(d, 10.0)
    await expect_counts(q, ready=1)
    [again] = await q.claim(5.0)
    assert again.task.attempts == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("discipline", "expected"),
    [("fifo", ["t1", "t2", "t3"]), ("priority", ["t3", "t1", "t2"])],
)
async def test_an_expired_task_goes_first_in_its_level(
    discipline: str, expected: list[str]
) -> None:
    clock = FakeClock()
    q = MemoryQueue(discipline=discipline, clock=clock)
    await q.enqueue(task(1, priority=1))
    await q.claim(5.0)
    await q.enqueue(task(2, priority=1))
    await q.enqueue(task(3, priority=2))
    clock.advance(6.0)
    assert ids(await q.claim(5.0, max_tasks=3)) == expected


@pytest.mark.asyncio
async def test_out_of_order_and_extended_leases_expire_on_time() -> None:
    clock = FakeClock()
    q = MemoryQueue(clock=clock)
    await q.enqueue_many(task(n) for n in range(3))
    [d0] = await q.claim(10.0)
    [d1] = await q.claim(2.0)  # earlier deadline than the lease before it
    [d2] = await q.claim(10.0)
    clock.advance(3.0)
    await expect_counts(q, ready=1, leased=2)
    await q.extend(d0, 1.0)  # shortened: out of order again
    assert d0.lease_until == clock() + 1.0
    await q.extend(d2, 20.0)
    clock.advance(1.5)
    await expect_counts(q, ready=2, leased=1)
    clock.advance(10.0)  # d2's first deadline passes; its extension holds
    await expect_counts(q, ready=2, leased=1)
    await q.ack(d2)
    with pytest.raises(LeaseLost):
        await q.ack(d1)


@pytest.mark.asyncio
async def test_lease_bookkeeping_stays_bounded() -> None:
    q = MemoryQueue()
    for n in range(6000):
        await q.enqueue(task(n))
        [d] = await q.claim(60.0 if n % 2 else 30.0)  # every other deadline out of order
        await q.ack(d)
    assert len(q._leased) == 0
    assert len(q._lease_heap) <= 1024 + 1


@pytest.mark.asyncio
async def test_claim_refuses_nonsense() -> None:
    q = MemoryQueue()
    await q.enqueue(task(1))
    with pytest.raises(ValueError):
        await q.claim(0.0)
    with pytest.raises(ValueError):
        await q.claim(30.0, max_tasks=0)
    await expect_counts(q, ready=1)


@pytest.mark.asyncio
async def test_dead_letter_refuses_an_id_already_dead() -> None:
    q = MemoryQueue()
    await q.enqueue(task(1))
    [d] = await q.claim(30.0)
    await q.dead_letter(d, "E", "first", at=1.0)
    await q.enqueue(task(1))  # a caller bug: the id is not unique
    [d] = await q.claim(30.0)
    with pytest.raises(BackendError, match="already dead-lettered"):
        await q.dead_letter(d, "E", "second", at=2.0)
    await expect_counts(q, leased=1, dead=1)


@pytest.mark.asyncio
async def test_nack_refuses_a_different_task() -> None:
    q = MemoryQueue()
    await q.enqueue(task(1))
    [d] = await q.claim(30.0)
    with pytest.raises(BackendError, match="came back as task"):
        await q.nack(Delivery(Task("other"), d.receipt, d.lease_until))
    await q.nack(Delivery(Task.from_json(d.task.to_json()), d.receipt, d.lease_until))
    await expect_counts(q, ready=1)


# --- random operation sequences --------------------------------------------------------
class QueueMachine(RuleBasedStateMachine):
    """Random enqueue/claim/ack/nack/dead-letter/reprocess/discard/clock moves.

    A model says where every task must be at the current fake time; after every step the
    counts must match it, and the total must equal enqueued - acked - discarded.
    """

    discipline = "fifo"
    stale = Bundle("stale")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.q = MemoryQueue("machine", discipline=self.discipline, clock=self.clock)
        self.state: dict[str, tuple[str, float]] = {}  # id -> (state, due or lease_until)
        self.priority: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.live: dict[str, Delivery] = {}  # id -> its latest delivery
        self.made = 0
        self.held = 0  # enqueued - acked - discarded

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _look(self) -> tuple[QueueCounts, DeadLetterPage]:
        return await self.q.counts(), await self.q.dead_letters()

    def where(self, tid: str) -> str:
        state, t = self.state[tid]
        now = self.clock()
        if state in ("delayed", "leased") and t <= now:
            return "ready"
        return state

    def valid(self, tid: str) -> bool:
        return tid in self.state and self.where(tid) == "leased" and self.live.get(tid) is not None

    # --- producing
    @rule(priority=st.integers(-2, 2), delay=st.sampled_from([0.0, 0.0, 3.0]))
    def enqueue(self, priority: int, delay: float) -> None:
        tid = f"t{self.made}"
        self.made += 1
        self.run(self.q.enqueue(Task(tid, priority=priority), delay=delay))
        self.state[tid] = ("delayed", self.clock() + delay) if delay else ("ready", 0.0)
        self.priority[tid] = priority
        self.attempts[tid] = 0
        self.held += 1

    # --- consuming
    @rule(target=stale, max_tasks=st.integers(1, 3), lease=st.sampled_from([1.0, 5.0]))
    def claim(self, max_tasks: int, lease: float):  # type: ignore[no-untyped-def]
        claimable = {t for t in self.state if self.where(t) == "ready"}
        got = self.run(self.q.claim(lease, max_tasks=max_tasks))
        assert len(got) == min(max_tasks, len(claimable))
        assert len({d.task.id for d in got}) == len(got)
        replaced = []
        for d in got:
            tid = d.task.id
            assert tid in claimable, f"{tid} was {self.where(tid)}"
            self.attempts[tid] += 1
            assert d.task.attempts == self.attempts[tid]
            if tid in self.live:
                replaced.append(self.live[tid])
            self.live[tid] = d
            self.state[tid] = ("leased", self.clock() + lease)
        if self.discipline == "priority" and got:
            left = claimable - {d.task.id for d in got}
            if left:
                assert min(d.task.priority for d in got) >= max(self.priority[t] for t in left)
        return multiple(*replaced)

    def _finish(self, data: st.DataObject, verb: str):  # type: ignore[no-untyped-def]
        tid = data.draw(st.sampled_from(sorted(self.live)))
        d = self.live[tid]
        if not self.valid(tid):  # its lease ran out: refused, nothing changes
            with pytest.raises(LeaseLost):
                self.run(self._call(verb, d))
            return multiple()
        self.run(self._call(verb, d))
        del self.live[tid]
        if verb == "ack":
            del self.state[tid]
            self.held -= 1
        elif verb == "nack":
            self.state[tid] = ("ready", 0.0)
        elif verb == "nack_later":
            self.state[tid] = ("delayed", self.clock() + 2.0)
        else:
            self.state[tid] = ("dead", 0.0)
        return multiple(d)  # its receipt is spent

    def _call(self, verb: str, d: Delivery):  # type: ignore[no-untyped-def]
        if verb == "ack":
            return self.q.ack(d)
        if verb == "nack":
            return self.q.nack(d)
        if verb == "nack_later":
            return self.q.nack(d, delay=2.0)
        return self.q.dead_letter(d, "E", f"error of {d.task.id}", at=self.clock())

    @precondition(lambda self: self.live)
    @rule(
        target=stale,
        data=st.data(),
        verb=st.sampled_from(["ack", "nack", "nack_later", "dead_letter"]),
    )
    def finish(self, data: st.DataObject, verb: str):  # type: ignore[no-untyped-def]
        return self._finish(data, verb)

    @rule(d=consumes(stale), verb=st.sampled_from(["ack", "nack", "dead_letter"]))
    def stale_receipt(self, d: Delivery, verb: str) -> None:
        with pytest.raises(LeaseLost):
            self.run(self._call(verb, d))

    # --- dead letters
    @rule(data=st.data(), reset=st.booleans())
    def reprocess(self, data: st.DataObject, reset: bool) -> None:
        dead = sorted(t for t in self.state if self.state[t][0] == "dead")
        chosen = data.draw(st.lists(st.sampled_from([*dead, "nope"]), max_size=3))
        moved = self.run(self.q.reprocess(chosen, reset_attempts=reset))
        assert moved == len(set(chosen) - {"nope"})
        for tid in set(chosen) - {"nope"}:
            self.state[tid] = ("ready", 0.0)
            if reset:
                self.attempts[tid] = 0

    @rule(data=st.data())
    def discard(self, data: st.DataObject) -> None:
        dead = sorted(t for t in self.state if self.state[t][0] == "dead")
        chosen = data.draw(st.lists(st.sampled_from([*dead, "nope"]), max_size=3))
        gone = self.run(self.q.discard(chosen))
        assert gone == len(set(chosen) - {"nope"})
        for tid in set(chosen) - {"nope"}:
            del self.state[tid]
            self.held -= 1

    # --- time and looking
    @rule(seconds=st.sampled_from([0.5, 1.0, 2.5, 6.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(n=st.integers(1, 4))
    def peek(self, n: int) -> None:
        claimable = {t for t in self.state if self.where(t) == "ready"}
        seen = self.run(self.q.peek(n))
        assert len(seen) == min(n, len(claimable)) and {t.id for t in seen} <= claimable

    @invariant()
    def counts_match_the_model(self) -> None:
        where = Counter(self.where(t) for t in self.state)
        counts, page = self.run(self._look())
        assert counts == QueueCounts(
            where["ready"], where["delayed"], where["leased"], where["dead"]
        )
        assert counts.total == self.held
        assert {d.id for d in page.items} == {t for t, (s, _) in self.state.items() if s == "dead"}


class PriorityQueueMachine(QueueMachine):
    discipline = "priority"


_MACHINE_SETTINGS = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestQueueMachineFifo = QueueMachine.TestCase
TestQueueMachineFifo.settings = _MACHINE_SETTINGS
TestQueueMachinePriority = PriorityQueueMachine.TestCase
TestQueueMachinePriority.settings = _MACHINE_SETTINGS


@pytest.mark.asyncio
async def test_a_new_discipline_reorders_the_waiting_tasks() -> None:
    """One engine after another on a named queue: the next run's discipline applies."""
    from queuelab.core.task import Task

    q = open_queue("memory://reorder?discipline=fifo")
    await q.purge()
    await q.enqueue_many([Task(id=f"r{i}", priority=p) for i, p in enumerate((0, 2, 1, 2))])
    again = open_queue("memory://reorder?discipline=priority")
    assert again is q
    got = await q.claim(lease=30.0, max_tasks=4)
    assert [d.task.id for d in got] == ["r1", "r3", "r2", "r0"]
    back = open_queue("memory://reorder?discipline=fifo")
    for d in got:
        await back.nack(d)
    assert [d.task.id for d in await back.claim(lease=30.0, max_tasks=4)] == [
        "r1", "r3", "r2", "r0"]
    await back.purge()
