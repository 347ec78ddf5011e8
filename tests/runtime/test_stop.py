"""Graceful shutdown: drain lets attempts finish; stop-now hands them back; nothing is lost."""

from __future__ import annotations

import asyncio

import pytest

from queuelab.core.engine import RunState, WorkerState
from queuelab.core.task import Outcome
from tests.runtime.helpers import live, scenario

# long constant tasks and a steady backlog: at the stop every worker holds a task
S = scenario(run={"duration": 600.0, "warmup": 0.0, "time_scale": 0.02},
             arrivals={"rate": 6.0}, service={"distribution": "constant", "mean": 4.0},
             pool={"workers": 4})


async def _all_busy(engine: object) -> None:
    from queuelab.runtime.engine import LiveEngine

    assert isinstance(engine, LiveEngine)
    engine.start()
    for _ in range(500):
        await asyncio.sleep(0.01)
        ws = engine.workers()
        if engine.now > 5.0 and len(ws) == 4 and all(w.state is WorkerState.BUSY for w in ws):
            return
    raise AssertionError("the workers never all got busy")


@pytest.mark.asyncio
async def test_stop_draining_lets_every_attempt_in_progress_finish() -> None:
    engine = live(S)
    await _all_busy(engine)
    before = engine.totals()
    await engine.stop(drain=True)
    assert engine.state is RunState.FINISHED
    after = engine.totals().check()
    assert after.done == before.done + 4 and after.in_flight == 0
    assert after.created == before.created  # no arrival after the stop
    ctx = engine.context
    assert ctx is not None and ctx.ledger.handed_back == 0 and ctx.ledger.abandoned == 0
    counts = await engine.queue.counts()  # type: ignore[union-attr]
    assert counts.ready == after.waiting and counts.leased == 0
    assert engine.workers() == []


@pytest.mark.asyncio
async def test_stop_now_hands_in_flight_tasks_back_and_loses_nothing() -> None:
    engine = live(S)
    await _all_busy(engine)
    running = {w.task_id for w in engine.workers()}
    before = engine.totals()
    await engine.stop(drain=False)
    after = engine.totals().check()
    assert after.done == before.done and after.in_flight == 0
    assert after.waiting == before.waiting + 4
    ctx = engine.context
    assert ctx is not None and ctx.ledger.handed_back == 4
    queue = engine.queue
    assert queue is not None
    counts = await queue.counts()
    assert counts.ready == after.waiting and counts.leased == 0
    back = {t.id: t for t in await queue.peek(counts.ready)}
    assert running <= set(back)
    for task_id in running:  # the cut attempt is on record; it stays counted
        task = back[task_id]
        assert task.attempts == 1 and task.history[-1].outcome is Outcome.ABANDONED


@pytest.mark.asyncio
async def test_a_second_stop_turns_a_drain_into_a_stop_now() -> None:
    engine = live(S)
    await _all_busy(engine)
    drain = asyncio.create_task(engine.stop(drain=True))
    await asyncio.sleep(0.01)
    assert engine.state is RunState.STOPPING
    await asyncio.wait_for(engine.stop(drain=False), 2.0)  # 4 s tasks would take 80 ms more
    await drain
    ctx = engine.context
    assert ctx is not None and ctx.ledger.handed_back == 4
    engine.totals().check()


@pytest.mark.asyncio
async def test_stopping_a_semaphore_pool_hands_prefetched_tasks_back_unstarted() -> None:
    s = scenario(run={"duration": 600.0, "warmup": 0.0, "time_scale": 0.02},
                 arrivals={"rate": 6.0}, service={"distribution": "constant", "mean": 4.0},
                 pool={"strategy": "semaphore", "concurrency": 2, "prefetch": 3})
    engine = live(s)
    engine.start()
    while engine.now < 5.0:
        await asyncio.sleep(0.01)
    assert engine.totals().in_flight == 5
    await engine.stop(drain=True)
    totals = engine.totals().check()
    assert totals.in_flight == 0
    queue = engine.queue
    assert queue is not None
    counts = await queue.counts()
    assert counts.ready == totals.waiting and counts.leased == 0
    never_ran = [t for t in await queue.peek(counts.ready) if not t.history]
    assert never_ran and all(t.attempts == 0 for t in never_ran)  # their claims taken back


@pytest.mark.asyncio
async def test_the_run_ends_by_itself_at_its_duration_and_drains() -> None:
    s = scenario(run={"duration": 20.0, "warmup": 0.0, "time_scale": 0.02},
                 arrivals={"rate": 2.0}, service={"distribution": "constant", "mean": 3.0},
                 pool={"workers": 2})
    engine = live(s)
    engine.start()
    await asyncio.wait_for(engine.wait(), 5.0)
    assert engine.state is RunState.FINISHED and engine.now == pytest.approx(20.0, abs=0.2)
    totals = engine.totals().check()
    assert totals.in_flight == 0 and totals.waiting > 0  # drained what was running only
    summary = engine.summary()
    assert summary.extras["in_flight"] == 2  # as the run's window closed, like the simulator
    assert engine.context is not None and engine.context.ledger.handed_back == 0
