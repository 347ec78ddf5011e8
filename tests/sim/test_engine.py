"""The simulated engine's behaviour: determinism, pools, retries, breaker, changes, verbs."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from queuelab.core.engine import RunState, WorkerState
from queuelab.core.scenario import Scenario
from queuelab.core.task import DeadLetterQuery
from queuelab.core.validation import ParamChange, ScenarioError
from queuelab.io.frames_csv import write_frames_csv
from queuelab.sim.engine import SimEngine

BASE = Scenario()


def scenario(**sections: dict) -> Scenario:
    s = BASE
    for name, values in sections.items():
        s = replace(s, **{name: replace(getattr(s, name), **values)})
    return s


DYNAMIC = scenario(
    run={"duration": 1800.0, "warmup": 0.0},
    arrivals={"process": "bursty", "rate": 2.0, "burst_rate": 20.0, "burst_length": 60.0,
              "quiet_length": 240.0},
    pool={"strategy": "dynamic", "workers": 2, "min_workers": 2, "max_workers": 16,
          "scale_up_threshold": 30.0, "scale_down_threshold": 3.0, "check_interval": 5.0},
    failures={"probability": 0.05},
)


def run(s: Scenario) -> SimEngine:
    e = SimEngine(s)
    e.run()
    e.totals().check()
    return e


def test_same_seed_gives_byte_identical_frames(tmp_path) -> None:
    a, b = run(DYNAMIC), run(DYNAMIC)
    write_frames_csv(tmp_path / "a.csv", a.take_frames())
    write_frames_csv(tmp_path / "b.csv", b.take_frames())
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    c = run(replace(DYNAMIC, run=replace(DYNAMIC.run, seed=2)))
    write_frames_csv(tmp_path / "c.csv", c.take_frames())
    assert (tmp_path / "c.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


def test_one_frame_per_sample_interval() -> None:
    e = run(scenario(run={"duration": 100.0, "sample_interval": 2.5, "warmup": 0.0}))
    frames = e.take_frames()
    assert [f.t for f in frames] == [2.5 * k for k in range(1, 41)]
    assert e.take_frames() == []


def test_dynamic_pool_follows_the_backlog_within_its_bounds() -> None:
    e = SimEngine(DYNAMIC)
    seen_draining_busy = False
    while e.step():
        workers = e.workers()
        assert len(workers) > 0
        for w in workers:
            if w.state is WorkerState.DRAINING:
                assert w.task_id is not None  # only a busy worker drains; idle ones leave
                seen_draining_busy = True
    counts = [f.workers for f in e.take_frames()]
    assert min(counts) >= 2
    assert max(counts) <= 16
    assert max(counts) > 4, "bursts of 20/s must scale the pool up"
    assert counts[-1] < max(counts), "quiet periods must scale it back down"
    assert seen_draining_busy


def test_lower_scale_up_threshold_mid_run_adds_workers() -> None:
    """The same seed with and without a change: common random numbers make it a fair test."""
    s = replace(DYNAMIC, arrivals=replace(DYNAMIC.arrivals, burst_rate=8.0))
    plain = SimEngine(s)
    plain.run_until(600)
    tuned = SimEngine(s)
    tuned.run_until(600)
    applied = tuned.apply(ParamChange("pool.scale_up_threshold", 5.0))
    assert applied.t == 600 and applied.old == 30.0 and applied.new == 5.0
    assert "Scale-up threshold 30 → 5 tasks" in applied.label()
    plain.run()
    tuned.run()
    worker_seconds = [e.summary().worker_seconds for e in (plain, tuned)]
    waits = [e.summary().mean_wait for e in (plain, tuned)]
    assert worker_seconds[1] > worker_seconds[0]  # it scales up earlier in every burst …
    assert waits[1] < 0.85 * waits[0]  # … so tasks wait markedly less
    assert tuned.changes == [applied]


def test_invalid_change_is_refused_with_its_path_and_nothing_changes() -> None:
    e = SimEngine(DYNAMIC)
    e.run_until(100)
    with pytest.raises(ScenarioError, match=r"pool.max_workers: must be >= pool.min_workers"):
        e.apply(ParamChange("pool.max_workers", 1))
    with pytest.raises(ScenarioError, match=r"run\.seed: cannot change while a run goes on"):
        e.apply(ParamChange("run.seed", 3))
    with pytest.raises(ScenarioError, match=r"pool\.nope"):
        e.apply(ParamChange("pool.nope", 3))
    assert e.scenario == DYNAMIC and not e.changes


def test_inline_retries_hold_workers_and_cost_throughput() -> None:
    common = {"failures": {"probability": 0.3},
              "retry": {"max_attempts": 4, "base_delay": 4.0, "jitter": "none"},
              "arrivals": {"rate": 3.5}, "run": {"duration": 1200.0}}
    requeue = run(scenario(**common))
    inline_s = scenario(**common)
    inline_s = replace(inline_s, retry=replace(inline_s.retry, mode="inline"))
    e = SimEngine(inline_s)
    backing_off = False
    while e.step():
        backing_off |= any(w.state is WorkerState.BACKING_OFF for w in e.workers())
    assert backing_off
    assert e.summary().mean_wait > 2 * requeue.summary().mean_wait


def test_poison_tasks_end_as_dead_letters_with_their_history() -> None:
    e = run(scenario(failures={"poison_fraction": 0.05}, retry={"max_attempts": 3},
                     run={"duration": 600.0}))
    page = asyncio.run(e.dead_letters(DeadLetterQuery(limit=10)))
    assert page.total == e.totals().dead_lettered > 0
    assert page.error_kinds == ("PoisonPill",)
    d = page.items[0]
    assert d.task.attempts == 3 and len(d.task.history) == 3
    assert [a.backoff is None for a in d.task.history] == [False, False, True]
    assert d.task.history[0].error_kind == "PoisonPill"
    assert d.task.payload["n"] == int(d.id[1:])
    assert asyncio.run(e.get_dead_letter(d.id)) == d


def test_dead_letter_queries_filter_order_and_page() -> None:
    e = run(scenario(failures={"poison_fraction": 0.05, "probability": 0.3},
                     retry={"max_attempts": 2}, timeouts={"task": 2.5},
                     run={"duration": 900.0}))
    everything = asyncio.run(e.dead_letters(DeadLetterQuery(limit=10**6)))
    kinds = set(everything.error_kinds)
    assert {"PoisonPill", "SyntheticFailure", "Timeout"} <= kinds
    only = asyncio.run(e.dead_letters(DeadLetterQuery(error_kind="Timeout", limit=10**6)))
    assert only.total_matching == sum(d.error_kind == "Timeout" for d in everything.items)
    by_id = asyncio.run(e.dead_letters(DeadLetterQuery(order_by="id", descending=True, limit=5)))
    numbers = [int(d.id[1:]) for d in by_id.items]
    assert numbers == sorted(numbers, reverse=True)
    second = asyncio.run(e.dead_letters(DeadLetterQuery(offset=5, limit=5)))
    assert [d.id for d in second.items] == [d.id for d in everything.items[5:10]]
    one = everything.items[0].id
    found = asyncio.run(e.dead_letters(DeadLetterQuery(text=one)))
    assert [d.id for d in found.items] == [one]


def test_reprocess_and_discard_keep_every_task_accounted_for() -> None:
    e = SimEngine(scenario(failures={"poison_fraction": 0.1}, run={"duration": 400.0}))
    e.run_until(300)
    before = e.totals().check()
    ids = [d.id for d in asyncio.run(e.dead_letters(DeadLetterQuery(limit=10**6))).items]
    assert len(ids) == before.dead_lettered > 4
    moved = asyncio.run(e.reprocess(ids[:3], reset_attempts=True))
    assert moved == 3
    assert asyncio.run(e.reprocess(ids[:3])) == 0  # already moved: never twice
    assert asyncio.run(e.discard(ids[3:5])) == 2
    after = e.totals().check()
    assert after.dead_lettered == before.dead_lettered - 5
    assert after.discarded == 2
    e.run()
    e.totals().check()


def test_priority_discipline_serves_higher_levels_first() -> None:
    s = scenario(priorities={"weights": (1.0, 1.0, 1.0)}, queue={"discipline": "priority"},
                 arrivals={"rate": 3.9}, pool={"workers": 4}, run={"duration": 3000.0})
    prio = run(s).summary()
    fifo = run(replace(s, queue=replace(s.queue, discipline="fifo"))).summary()
    # the mean wait is the same under any work-conserving order (conservation law) …
    assert prio.mean_wait == pytest.approx(fifo.mean_wait, rel=0.25)
    # … but priorities spread it: most tasks wait less, the lowest level starves
    assert prio.wait_p50 < 0.7 * fifo.wait_p50
    assert prio.wait_p99 > 1.3 * fifo.wait_p99


def test_circuit_breaker_stops_work_while_open() -> None:
    s = scenario(failures={"probability": 0.9}, breaker={"enabled": True,
                 "failure_threshold": 3, "open_for": 20.0}, run={"duration": 300.0})
    e = SimEngine(s)
    blocked = False
    while e.step():
        blocked |= any(w.state is WorkerState.BLOCKED for w in e.workers())
    frames = e.take_frames()
    assert blocked
    assert any(f.breaker_open for f in frames) and not all(f.breaker_open for f in frames)
    open_frames = [f for f in frames if f.breaker_open]
    assert sum(f.busy for f in open_frames) < sum(f.workers for f in open_frames)


def test_timeouts_cut_attempts_short() -> None:
    e = run(scenario(service={"distribution": "pareto", "mean": 1.0, "shape": 1.5},
                     timeouts={"task": 3.0}, retry={"max_attempts": 1}))
    page = asyncio.run(e.dead_letters(DeadLetterQuery(limit=10**6)))
    assert page.total > 0 and set(page.error_kinds) == {"Timeout"}
    for d in page.items[:50]:
        a = d.task.history[-1]
        assert a.ended - a.started == pytest.approx(3.0)


def test_semaphore_prefetch_holds_tasks_in_flight() -> None:
    s = scenario(pool={"strategy": "semaphore", "concurrency": 3, "prefetch": 5},
                 arrivals={"rate": 2.9}, run={"duration": 600.0})
    frames = run(s).take_frames()
    assert max(f.in_flight - f.busy for f in frames) == 5
    assert all(f.workers == 3 for f in frames)


def test_pause_step_and_speed_pacing() -> None:
    e = SimEngine(BASE)
    e.start()
    assert e.state is RunState.RUNNING
    e.pause()
    e.advance(0.05)
    assert e.now == 0.0
    assert e.step() and e.now > 0.0
    e.resume()
    e.set_speed(100.0)
    began = time.perf_counter()
    while time.perf_counter() - began < 0.3:
        e.advance(0.01)
    assert 10.0 <= e.now <= 45.0  # ~30 virtual seconds at 100x, allowing scheduler noise
    e.set_speed(None)
    while e.state is RunState.RUNNING:
        e.advance(0.05)
    assert e.state is RunState.FINISHED and e.now == BASE.run.duration
    assert not e.step()


def test_frames_are_bounded_when_nobody_reads_them() -> None:
    from queuelab.sim import engine as sim_engine

    e = SimEngine(scenario(run={"duration": 86_400.0, "sample_interval": 0.5, "warmup": 0.0},
                           arrivals={"rate": 0.2}))
    e.run()
    assert len(e.take_frames()) == sim_engine.FRAME_BUFFER


def test_idle_changes_rebuild_the_run() -> None:
    e = SimEngine(BASE)
    e.apply(ParamChange("pool.workers", 6))
    e.start()
    assert len(e.workers()) == 6


def test_summary_counts_agree_with_the_totals() -> None:
    """The recorder's counts (tallied in bulk from the loop) match the engine's own totals."""
    e = run(replace(DYNAMIC, run=replace(DYNAMIC.run, warmup=0.0)))
    s, t = e.summary(), e.totals()
    assert s.arrived == t.created
    assert s.completed == t.done
    assert s.dead_lettered == t.dead_lettered
    frames = e.take_frames()
    interval = DYNAMIC.run.sample_interval
    assert round(sum(f.arrival_rate * interval for f in frames)) == t.created
    assert round(sum(f.throughput * interval for f in frames)) == frames[-1].done
