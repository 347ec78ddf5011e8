"""The Engine protocol live: changes while running, pause, step, speed, and start's needs."""

from __future__ import annotations

import asyncio

import pytest

from queuelab.core.engine import RunState
from queuelab.core.validation import ParamChange, ScenarioError
from tests.runtime.helpers import live, run_to_end, scenario


@pytest.mark.asyncio
async def test_rate_and_pool_changes_take_effect_while_running() -> None:
    s = scenario(run={"duration": 60.0, "warmup": 0.0, "time_scale": 0.02},
                 arrivals={"rate": 1.0}, service={"mean": 0.5}, pool={"workers": 2})
    engine = live(s)
    marks: list[str] = []

    def watch(e: object) -> None:
        if not marks and engine.now >= 20.0:
            marks.append(engine.apply(ParamChange("arrivals.rate", 8.0)).label())
            marks.append(engine.apply(ParamChange("pool.workers", 6)).label())

    frames = await run_to_end(engine, watch=watch)
    assert marks == ["Rate 1 → 8 tasks/s", "Workers 2 → 6"]
    change = engine.changes[0]
    assert change.path == "arrivals.rate" and 20.0 <= change.t < 22.0
    before = [f for f in frames if f.t <= 20.0]
    after = [f for f in frames if f.t > 25.0]
    rate_before = sum(f.arrival_rate for f in before) / len(before)
    rate_after = sum(f.arrival_rate for f in after) / len(after)
    assert rate_before < 2.0 and 5.5 < rate_after < 11.0
    assert {f.workers for f in before} == {2} and {f.workers for f in after} == {6}
    assert engine.scenario.arrivals.rate == 8.0


@pytest.mark.asyncio
async def test_changes_that_cannot_be_made_mid_run_are_refused() -> None:
    engine = live(scenario(run={"duration": 600.0, "time_scale": 0.02, "warmup": 0.0}))
    engine.start()
    with pytest.raises(ScenarioError, match=r"run\.seed: cannot change while a run goes on"):
        engine.apply(ParamChange("run.seed", 5))
    with pytest.raises(ScenarioError, match=r"pool\.workers: must be >= 1"):
        engine.apply(ParamChange("pool.workers", 0))
    with pytest.raises(ValueError, match="speed applies to the simulated engine only"):
        engine.set_speed(10.0)
    await engine.stop(drain=False)


@pytest.mark.asyncio
async def test_pause_stops_scenario_time_and_step_plays_one_frame() -> None:
    engine = live(scenario(run={"duration": 600.0, "time_scale": 0.02, "warmup": 0.0},
                           arrivals={"rate": 3.0}))
    assert engine.step()  # from idle: start, then pause after the first frame
    for _ in range(200):
        await asyncio.sleep(0.01)
        if engine.state is RunState.PAUSED:
            break
    assert engine.state is RunState.PAUSED
    frames = engine.take_frames()
    assert [round(f.t) for f in frames] == [1]
    held = engine.now
    created = engine.totals().created
    await asyncio.sleep(0.1)  # five scenario seconds, were it running
    assert engine.now == held and engine.totals().created == created
    assert engine.take_frames() == []
    engine.step()
    while engine.state is not RunState.PAUSED:
        await asyncio.sleep(0.01)
    assert [round(f.t) for f in engine.take_frames()] == [2]
    engine.resume()
    await asyncio.sleep(0.1)
    assert engine.now > held + 2.0
    await engine.stop(drain=False)
    engine.totals().check()


@pytest.mark.asyncio
async def test_an_idle_engine_rebuilds_on_a_change_and_reports_an_empty_run() -> None:
    engine = live(scenario(run={"duration": 20.0, "time_scale": 0.02, "warmup": 0.0}))
    engine.apply(ParamChange("run.seed", 9))  # allowed before the start
    engine.apply(ParamChange("arrivals.rate", 5.0))
    assert engine.scenario.run.seed == 9 and engine.totals().created == 0
    assert engine.workers() == [] and engine.take_frames() == []
    frames = await run_to_end(engine)
    assert 18 <= len(frames) <= 20
    assert 50 < engine.totals().created < 160


def test_start_needs_a_running_event_loop() -> None:
    engine = live(scenario())
    with pytest.raises(RuntimeError, match="needs a running asyncio event loop"):
        engine.start()
    assert engine.state is RunState.IDLE


@pytest.mark.asyncio
async def test_a_backend_failure_ends_the_run_and_is_reported() -> None:
    engine = live(scenario(run={"duration": 600.0, "time_scale": 0.02, "warmup": 0.0}))
    queue = engine.queue
    assert queue is not None

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the queue went away")

    engine.start()
    await asyncio.sleep(0.05)
    queue.enqueue = broken  # type: ignore[method-assign]
    queue.enqueue_many = broken  # type: ignore[method-assign]
    for _ in range(100):
        await asyncio.sleep(0.01)
        if engine.state is RunState.FINISHED:
            break
    assert engine.state is RunState.FINISHED
    with pytest.raises(ConnectionError, match="the queue went away"):
        engine.advance(0.01)
    engine.advance(0.01)  # reported once
    with pytest.raises(ConnectionError):
        await engine.wait()
