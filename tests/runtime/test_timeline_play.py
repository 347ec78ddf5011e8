"""Both engines play a scenario's timeline: the same changes at the same scenario times,
logged like changes by hand (the plots' markers), the knobs restored after `for`, and the
pool really resized on both sides."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from queuelab.core.timeline import TimelineEntry
from queuelab.sim.engine import SimEngine
from tests.runtime.helpers import live, run_to_end, scenario

TIMELINE = (
    TimelineEntry(10.0, "pool.workers", 5, 15.0, "more workers"),
    TimelineEntry(20.0, "arrivals.rate", 6.0, label="more load"),
    TimelineEntry(20.0, "failures.probability", 0.5, 10.0, "outage"),
)


def _scenario():  # type: ignore[no-untyped-def]
    s = scenario(run={"duration": 40.0, "warmup": 0.0, "time_scale": 0.02,
                      "sample_interval": 1.0},
                 arrivals={"rate": 2.0}, service={"mean": 0.5}, pool={"workers": 2},
                 retry={"base_delay": 0.1, "max_delay": 1.0})
    return replace(s, timeline=TIMELINE)


EXPECTED = [(10.0, "pool.workers", 2, 5), (20.0, "arrivals.rate", 2.0, 6.0),
            (20.0, "failures.probability", 0.0, 0.5), (25.0, "pool.workers", 5, 2),
            (30.0, "failures.probability", 0.5, 0.0)]


def _log(engine: SimEngine | object) -> list[tuple[float, str, object, object]]:
    return [(c.t, c.path, c.old, c.new) for c in engine.changes]  # type: ignore[attr-defined]


def test_the_simulator_plays_the_timeline_at_its_times() -> None:
    sim = SimEngine(_scenario())
    sim.run()
    assert _log(sim) == EXPECTED
    frames = sim.take_frames()
    workers = {round(f.t): f.workers for f in frames}
    assert workers[9] == 2 and workers[12] == 5 and workers[24] == 5
    assert workers[27] == 2  # restored (the busy ones drained first)
    assert max(f.error_rate for f in frames if 21 <= f.t <= 30) > 0
    assert max(f.error_rate for f in frames if f.t <= 20) == 0
    assert sim.scenario.get("arrivals.rate") == 6.0
    assert sim.scenario.get("failures.probability") == 0.0
    assert sim.notices == []


def test_stepping_meets_a_timeline_change_as_one_event() -> None:
    sim = SimEngine(_scenario())
    while not sim.changes:
        assert sim.step()
    assert sim.now == 10.0 and _log(sim) == EXPECTED[:1]


def test_a_step_says_which_event_it_processes() -> None:
    sim = SimEngine(_scenario())
    sim.start()
    sim.pause()
    said = []
    while sim.now < 26.0:
        said.append(sim.next_event())
        assert sim.step()
    timeline = [line for line in said if "timeline" in line]
    assert timeline == ["10.000 s: timeline[0] sets pool.workers = 5",
                        "20.000 s: timeline[1] sets arrivals.rate = 6.0; "
                        "timeline[2] sets failures.probability = 0.5",  # one event
                        "25.000 s: timeline[0] restores pool.workers = 2"]
    assert sum("a metrics frame closes" in line for line in said) == math.floor(sim.now)
    assert sum(": arrival of task" in line for line in said) == sim.totals().created
    assert any("backoff ends: it joins the queue again" in line for line in said)


def test_the_fast_path_and_the_methods_play_it_alike() -> None:
    fast, slow = SimEngine(_scenario()), SimEngine(_scenario())
    slow.fast_path = False
    fast.run()
    slow.run()
    frames = fast.take_frames()
    assert len(frames) == 40
    assert repr(frames) == repr(slow.take_frames())  # (repr: a NaN equals itself there)


@pytest.mark.asyncio
async def test_the_live_engine_plays_the_same_timeline_at_the_same_times() -> None:
    engine = live(_scenario())
    frames = await run_to_end(engine)
    got = _log(engine)
    assert [(path, old, new) for _, path, old, new in got] == [
        (path, old, new) for _, path, old, new in EXPECTED]
    for (t, *_), (t_sim, *_) in zip(got, EXPECTED, strict=True):
        # applied when its scenario time came, no earlier, late by a timer's lateness only
        assert t_sim <= t < t_sim + 1.0, (t, t_sim)
    workers = {round(f.t): f.workers for f in frames}
    assert workers[9] == 2 and workers[14] == 5
    assert max(f.error_rate for f in frames if 21 <= f.t <= 30) > 0
    assert engine.scenario.get("failures.probability") == 0.0


@pytest.mark.asyncio
async def test_the_live_engine_sheds_load_beyond_max_length() -> None:
    """Arrivals that find max_length tasks waiting are rejected and in the books (every
    frame balanced with them, `run_to_end`), and the frames count them."""
    s = scenario(run={"duration": 30.0, "warmup": 0.0, "time_scale": 0.02},
                 arrivals={"rate": 8.0}, service={"mean": 1.0}, pool={"workers": 2},
                 queue={"max_length": 3})
    engine = live(s)
    frames = await run_to_end(engine)
    totals = engine.totals().check()
    assert totals.rejected > 50, totals
    assert frames[-1].rejected == totals.rejected
    assert max(f.depth for f in frames) <= 3


def test_the_shipped_retry_storm_plays_its_outage_unattended() -> None:
    """resources/scenarios/retry-storm.toml: the outage is its timeline's, and the retries
    keep the pool saturated well after the downstream is healthy again."""
    from pathlib import Path

    from queuelab.io.scenario_files import load_scenario

    root = Path(__file__).resolve().parents[2]
    sim = SimEngine(load_scenario(root / "resources/scenarios/retry-storm.toml"))
    sim.run()
    assert _log(sim) == [(600.0, "failures.probability", 0.0, 1.0),
                         (720.0, "failures.probability", 1.0, 0.0)]
    frames = sim.take_frames()
    before = [f.utilization for f in frames if 300 < f.t <= 600]
    after = [f.utilization for f in frames if 720 < f.t <= 840]
    assert max(f.error_rate for f in frames if f.t <= 600) == 0.0
    assert sum(before) / len(before) < 0.8  # comfortable before the outage
    assert min(after) > 0.99  # saturated for two minutes after it ended
