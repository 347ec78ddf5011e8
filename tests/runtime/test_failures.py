"""Failures live: retries (requeue and inline), dead letters, timeouts and the breaker."""

from __future__ import annotations

import pytest

from queuelab.core.engine import WorkerState
from queuelab.core.task import DeadLetterQuery, Outcome
from queuelab.core.validation import ParamChange
from tests.runtime.helpers import balanced, live, run_to_end, scenario

RUN = {"duration": 60.0, "warmup": 0.0, "time_scale": 0.02}


@pytest.mark.asyncio
async def test_requeued_retries_wait_in_the_queue_and_free_the_worker() -> None:
    s = scenario(run=RUN, arrivals={"rate": 2.0}, service={"mean": 0.3},
                 failures={"probability": 0.4},
                 retry={"max_attempts": 6, "base_delay": 2.0, "jitter": "none",
                        "mode": "requeue"},
                 pool={"workers": 2})
    engine = live(s)
    seen: set[WorkerState] = set()
    frames = await run_to_end(engine, watch=lambda e: seen.update(
        w.state for w in e.workers()))
    assert WorkerState.BACKING_OFF not in seen  # a requeue never holds a worker
    assert max(f.retrying for f in frames) >= 1
    assert sum(f.retry_rate for f in frames) > 5
    summary = engine.summary()
    assert summary.retries > 10 and 0.25 < summary.failed_attempts / (
        summary.failed_attempts + summary.completed) < 0.55


@pytest.mark.asyncio
async def test_inline_retries_keep_the_worker_backing_off_with_its_task() -> None:
    s = scenario(run=RUN, arrivals={"rate": 1.0}, service={"mean": 0.3},
                 failures={"probability": 0.5},
                 retry={"max_attempts": 10, "base_delay": 3.0, "max_delay": 3.0,
                        "jitter": "none", "mode": "inline"},
                 pool={"workers": 3})
    engine = live(s)
    backing_off: list[tuple[str | None, int]] = []

    def watch(e: object) -> None:
        for w in engine.workers():
            if w.state is WorkerState.BACKING_OFF:
                backing_off.append((w.task_id, engine.totals().retrying))

    frames = await run_to_end(engine, watch=watch)
    assert backing_off and all(task is not None for task, _ in backing_off)
    assert all(retrying >= 1 for _, retrying in backing_off)  # counted as retrying
    assert max(f.retrying for f in frames) >= 1
    # that a backing-off task stays leased to its worker, not queued, is what the per-frame
    # audit in run_to_end checks: backend leased == in flight + inline backoffs


@pytest.mark.asyncio
async def test_poison_tasks_end_as_dead_letters_with_their_history() -> None:
    s = scenario(run=RUN, arrivals={"rate": 3.0}, service={"mean": 0.2},
                 failures={"poison_fraction": 0.2},
                 retry={"max_attempts": 3, "base_delay": 0.5, "jitter": "none"},
                 pool={"workers": 3})
    engine = live(s)
    frames = await run_to_end(engine)
    page = await engine.dead_letters(DeadLetterQuery(limit=1000))
    assert page.total == engine.totals().dead_lettered > 10
    assert page.error_kinds == ("PoisonPill",)
    for dead in page.items:
        assert dead.task.poison and dead.task.attempts == 3
        assert [a.outcome for a in dead.task.history] == [Outcome.FAILED] * 3
        assert [a.backoff for a in dead.task.history] == [0.5, 1.0, None]
        assert all(a.error_kind == "PoisonPill" and a.worker.startswith("w")
                   for a in dead.task.history)
        assert all(a.ended is not None and a.ended >= a.started for a in dead.task.history)
        assert dead.error == "poison task: fails every attempt"
    one = await engine.get_dead_letter(page.items[0].id)
    assert one is not None and one.id == page.items[0].id
    assert frames[-1].dead_letters <= page.total  # the drain after the last frame may add

    # reprocess two and discard one: the books follow, the plots get markers
    ids = [d.id for d in page.items[:3]]
    assert await engine.reprocess(ids[:2]) == 2
    assert await engine.discard(ids[2:]) == 1
    totals = engine.totals().check()
    assert totals.discarded == 1 and totals.dead_lettered == page.total - 3
    assert [c.path for c in engine.changes] == ["dead_letters.reprocess",
                                                "dead_letters.discard"]
    counts = await engine.queue.counts()  # type: ignore[union-attr]
    assert counts.dead == totals.dead_lettered
    assert counts.ready + counts.delayed == totals.waiting + totals.retrying


@pytest.mark.asyncio
async def test_task_timeout_cuts_attempts_short() -> None:
    s = scenario(run={**RUN, "duration": 30.0}, arrivals={"rate": 1.0},
                 service={"distribution": "constant", "mean": 2.0},
                 timeouts={"task": 0.5},
                 retry={"max_attempts": 2, "base_delay": 0.5, "jitter": "none"},
                 pool={"workers": 4})
    engine = live(s)
    await run_to_end(engine)
    page = await engine.dead_letters(DeadLetterQuery(limit=100))
    assert page.total > 10 and page.error_kinds == ("Timeout",)
    lengths = []
    for dead in page.items:
        assert dead.error == "attempt exceeded the 0.5 s task timeout"
        for a in dead.task.history:
            assert a.outcome is Outcome.TIMED_OUT and a.ended is not None
            lengths.append(a.ended - a.started)
    # one cut may come a few wall milliseconds late on a busy machine (0.05 s each here)
    assert all(0.3 < x < 1.5 for x in lengths), lengths
    assert sum(lengths) / len(lengths) == pytest.approx(0.5, abs=0.12)
    assert engine.totals().done == 0
    assert engine.summary().mean_service == pytest.approx(0.5, abs=0.15)


@pytest.mark.asyncio
async def test_the_breaker_opens_on_failures_and_closes_after_a_good_probe() -> None:
    s = scenario(run={**RUN, "duration": 50.0}, arrivals={"rate": 4.0}, service={"mean": 0.2},
                 failures={"probability": 1.0},
                 retry={"max_attempts": 1},
                 breaker={"enabled": True, "failure_threshold": 3, "open_for": 5.0,
                          "half_open_probes": 1},
                 pool={"workers": 3})
    engine = live(s)
    seen: set[WorkerState] = set()
    healed = False

    def watch(e: object) -> None:
        nonlocal healed
        seen.update(w.state for w in engine.workers())
        if not healed and engine.now > 15.0:
            healed = True  # the downstream recovers: the next probe succeeds
            engine.apply(ParamChange("failures.probability", 0.0))

    frames = await run_to_end(engine, watch=watch)
    assert WorkerState.BLOCKED in seen
    opened = [f.t for f in frames if f.breaker_open]
    assert opened and min(opened) < 5.0  # it opened early, at the first failures
    late = [f for f in frames if f.t > 25.0]
    assert late and not any(f.breaker_open for f in late)  # and closed once healed
    assert sum(f.throughput for f in late) > 0
    assert all(balanced(f) for f in frames)
    # while open nothing was attempted: far fewer failures than arrivals before healing
    early_failures = sum(f.error_rate > 0 for f in frames if f.t <= 15.0)
    assert early_failures < 15
