"""Every pool strategy carries a load live, with every task accounted for at every frame."""

from __future__ import annotations

import pytest

from queuelab.core.engine import RunState, WorkerState
from queuelab.core.validation import ParamChange
from tests.runtime.helpers import live, run_to_end, scenario

# 60 scenario seconds at 0.02: 1.2 s of wall time per run
RUN = {"duration": 60.0, "warmup": 0.0, "time_scale": 0.02}


@pytest.mark.asyncio
@pytest.mark.parametrize(("strategy", "pool"), [
    ("single", {}),
    ("fixed", {"workers": 3}),
    ("dynamic", {"workers": 1, "min_workers": 1, "max_workers": 6, "check_interval": 2.0,
                 "scale_up_threshold": 2, "scale_down_threshold": 1}),
    ("semaphore", {"concurrency": 3, "prefetch": 2}),
])
async def test_every_strategy_processes_a_load(strategy: str, pool: dict[str, object]) -> None:
    rate = 1.2 if strategy == "single" else 3.0
    s = scenario(run=RUN, arrivals={"rate": rate}, service={"mean": 0.5},
                 pool={"strategy": strategy, **pool})
    engine = live(s)
    frames = await run_to_end(engine)  # balanced at every frame and every 10 ms
    # one frame per scenario second; a loop stalled past two boundaries (20 ms of wall
    # time here, which a loaded machine does now and then) merges their frames into one
    assert 57 <= len(frames) <= 60 and frames[-1].t >= 60.0
    # the books matched the backend's at (nearly) every frame: an audit runs in the
    # background and one still running when the next frame closes is not repeated
    assert engine.audits >= len(frames) - 3
    totals = engine.totals()
    assert totals.created > 0.6 * rate * 60
    assert totals.done >= totals.created - 12  # a handful still queued or running at the end
    assert totals.in_flight == 0 and engine.state is RunState.FINISHED
    summary = engine.summary()
    assert 0.1 < summary.utilization <= 1.0 and summary.mean_service == pytest.approx(0.5, 0.35)
    assert summary.extras["final_workers"] >= 1
    names = {f.workers for f in frames}
    if strategy == "single":
        assert names == {1}
    elif strategy in ("fixed", "semaphore"):
        assert names == {3}


@pytest.mark.asyncio
async def test_semaphore_prefetch_claims_ahead_of_free_slots() -> None:
    s = scenario(run={**RUN, "duration": 30.0}, arrivals={"rate": 12.0},
                 service={"mean": 0.5, "distribution": "constant"},
                 pool={"strategy": "semaphore", "concurrency": 2, "prefetch": 3})
    engine = live(s)
    seen: list[tuple[int, int]] = []

    def watch(e: object) -> None:
        ctx = engine.context
        if ctx is not None:
            seen.append((ctx.busy, ctx.ledger.in_flight))

    await run_to_end(engine, watch=watch)
    assert max(b for b, _ in seen) == 2  # never more than the concurrency runs
    assert max(f for _, f in seen) == 5  # but capacity + prefetch are held
    assert {w.id for w in engine.workers()} == set()  # the run is over: no slot left


@pytest.mark.asyncio
async def test_dynamic_pool_scales_up_under_a_backlog_then_back_down() -> None:
    # a 20 s spike of 6 tasks/s on 1 s tasks needs ~6 workers; a pool of 1 must grow
    s = scenario(run={**RUN, "duration": 80.0},
                 arrivals={"process": "spike", "rate": 0.2, "at": 0.0, "extra": 6.0,
                           "length": 20.0},
                 service={"distribution": "constant", "mean": 1.0},
                 pool={"strategy": "dynamic", "workers": 1, "min_workers": 1, "max_workers": 8,
                       "check_interval": 2.0, "scale_up_threshold": 4,
                       "scale_down_threshold": 1})
    engine = live(s)
    frames = await run_to_end(engine)
    counts = [f.workers for f in frames]
    peak = counts.index(max(counts))
    assert counts[0] == 1 and max(counts) >= 6
    assert counts[-1] <= 2 and peak < len(counts) - 1  # back down once the backlog is gone
    totals = engine.totals()
    assert totals.done >= totals.created - 2  # all done but the last arrivals
    assert engine.context is not None and engine.context.ledger.abandoned == 0
    assert engine.summary().failed_attempts == 0  # no attempt was cut short


@pytest.mark.asyncio
async def test_shrinking_a_busy_pool_drains_and_never_kills_a_busy_worker() -> None:
    s = scenario(run={**RUN, "duration": 40.0}, arrivals={"rate": 8.0},
                 service={"distribution": "constant", "mean": 3.0},
                 pool={"strategy": "dynamic", "workers": 6, "min_workers": 1,
                       "max_workers": 6, "check_interval": 100.0})
    engine = live(s)
    states: list[set[WorkerState]] = []
    applied = False

    def watch(e: object) -> None:
        nonlocal applied
        ws = engine.workers()
        if not applied and engine.now > 5.0 and all(w.state is WorkerState.BUSY for w in ws):
            applied = True
            engine.apply(ParamChange("pool.workers", 2))
        if applied:
            states.append({w.state for w in engine.workers()})

    frames = await run_to_end(engine, watch=watch)
    assert applied
    assert WorkerState.DRAINING in states[0]  # marked, not cancelled
    assert len([f for f in frames if f.t > 10.0 and f.workers == 2]) > 20
    ctx = engine.context
    assert ctx is not None
    assert ctx.ledger.abandoned == 0
    # every attempt that started finished: no failure, no abandoned attempt anywhere
    assert engine.summary().failed_attempts == 0


@pytest.mark.asyncio
async def test_new_workers_take_work_only_after_the_startup_delay() -> None:
    # at 0.05 (50 ms per scenario second) a loaded machine's stalls stay well under a second
    s = scenario(run={**RUN, "duration": 20.0, "time_scale": 0.05}, arrivals={"rate": 6.0},
                 service={"distribution": "constant", "mean": 1.0},
                 pool={"strategy": "fixed", "workers": 2, "startup_delay": 4.0})
    engine = live(s)
    seen: dict[str, list[tuple[float, WorkerState]]] = {}
    grown: list[float] = []

    def watch(e: object) -> None:
        if not grown and engine.now >= 5.0:
            grown.append(engine.apply(ParamChange("pool.workers", 4)).t)
        for w in engine.workers():
            seen.setdefault(w.id, []).append((engine.now, w.state))

    frames = await run_to_end(engine, watch=watch)
    assert set(seen) == {"w1", "w2", "w3", "w4"}
    for name in ("w3", "w4"):  # started cold: no work until 4 s after the change
        states = seen[name]
        assert states[0][1] is WorkerState.STARTING
        busy = [t for t, st in states if st is WorkerState.BUSY]
        assert busy, (name, grown, states[:3], states[-3:])
        first_busy = min(busy)
        # a cold start is a duration, so it may end up to the clock's learned lead early
        assert all(st is WorkerState.STARTING for t, st in states if t < grown[0] + 3.7)
        assert grown[0] + 3.7 <= first_busy <= grown[0] + 5.5
    assert {f.workers for f in frames if f.t > grown[0] + 0.5} == {4}  # counted while cold


@pytest.mark.asyncio
@pytest.mark.parametrize(("limit", "lowest"), [(1.0, 3), (0.8, 4)])
async def test_live_pool_scales_down_only_as_far_as_the_measured_load_allows(
        limit: float, lowest: int) -> None:
    # 3 tasks/s of 1 s tasks on an empty-backlog rule that always wants one fewer: without
    # the capacity rule the pool sinks to 3 or below; with 0.8 it stops at 4 (3 / (3 × 1)
    # is not below 0.8, 3 / (4 × 1) is), on the rates the live recorder measured
    s = scenario(run=RUN, arrivals={"process": "constant", "rate": 3.0},
                 service={"distribution": "constant", "mean": 1.0},
                 pool={"strategy": "dynamic", "workers": 6, "min_workers": 1,
                       "max_workers": 6, "check_interval": 2.0, "scale_up_threshold": 50,
                       "scale_down_threshold": 1, "scale_down_max_utilization": limit})
    frames = await run_to_end(live(s))
    counts = [f.workers for f in frames]
    if limit < 1.0:
        assert min(counts) == lowest == counts[-1]  # it did shrink, and stopped there
    else:
        assert min(counts) <= lowest
