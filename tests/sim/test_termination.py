"""Termination grace: a removed busy worker finishes within it or is killed, in both engines."""

from __future__ import annotations

import pytest

from queuelab.core.engine import RunState
from queuelab.core.validation import ParamChange
from queuelab.sim.engine import SimEngine
from tests.runtime.helpers import live, run_to_end, scenario

RUN = {"duration": 120.0, "warmup": 0.0, "time_scale": 0.05, "seed": 3}


def long_tasks(grace: float) -> object:
    # a task every 2 s, each 50 s long, on two workers: both busy from t=2 and t=4
    return scenario(run=RUN, arrivals={"process": "constant", "rate": 0.5},
                    service={"distribution": "constant", "mean": 50.0},
                    pool={"strategy": "fixed", "workers": 2, "termination_grace": grace})


def test_a_busy_worker_is_killed_when_its_grace_runs_out() -> None:
    sim = SimEngine(long_tasks(5.0))  # type: ignore[arg-type]
    sim.start()
    sim.run_until(10.0)
    sim.apply(ParamChange("pool.workers", 1))
    sim.run_until(14.99)
    assert len(sim.workers()) == 2  # draining, inside its grace
    before = sim.totals()
    sim.run_until(15.01)
    after = sim.totals()
    assert len(sim.workers()) == 1
    assert (after.in_flight, after.waiting) == (before.in_flight - 1, before.waiting + 1)
    after.check()
    sim.run()
    assert sim.state is RunState.FINISHED
    sim.totals().check()
    assert sim.summary().failed_attempts == 0  # a killed attempt is not a failure


def test_without_a_grace_limit_the_worker_finishes() -> None:
    sim = SimEngine(long_tasks(0.0))  # type: ignore[arg-type]
    sim.start()
    sim.run_until(10.0)
    sim.apply(ParamChange("pool.workers", 1))
    sim.run_until(49.9)
    assert len(sim.workers()) == 2  # the drained worker's 50 s task is not over yet
    sim.run_until(56.0)
    assert len(sim.workers()) == 1
    assert sim.totals().done == 2


@pytest.mark.asyncio
async def test_the_live_pool_kills_at_the_same_time() -> None:
    s = long_tasks(5.0)
    sim = SimEngine(s)  # type: ignore[arg-type]
    sim.start()
    sim.run_until(10.0)
    sim.apply(ParamChange("pool.workers", 1))
    sim.run()
    engine = live(s)  # type: ignore[arg-type]
    applied = False
    seen: list[tuple[float, int]] = []

    def watch(e: object) -> None:
        nonlocal applied
        if not applied and engine.now >= 10.0:
            applied = True
            engine.apply(ParamChange("pool.workers", 1))
        seen.append((engine.now, len(engine.workers())))

    await run_to_end(engine, watch=watch)
    gone = min(t for t, n in seen if n == 1 and t > 10.0)
    assert 14.5 <= gone <= 17.0, gone  # the grace (5 s) after the change, not the task's 50 s
    a, b = sim.summary(), engine.summary()
    assert b.completed == a.completed
    assert b.failed_attempts == a.failed_attempts == 0
    x, y = engine.totals(), sim.totals()
    assert x.done == y.done == 2  # the killed task is not done, nor lost (the books balance)
    assert abs(x.created - y.created) <= 1  # (an arrival due at the very end may miss it)
