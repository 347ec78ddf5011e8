"""The event loop's inlined paths against the engine's methods: the same run, byte for byte.

The simulator handles arrivals and finishes that free a worker inline, with the start of an
attempt written once more in the loop (`SimEngine._loop`); `fast_path = False` sends every
event through the methods (`_place`, `_finish`, `_start` …) instead. Both must write the
same frames and end with the same books and dead letters, whatever the scenario.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.scenario import Scenario
from queuelab.core.task import DeadLetterQuery
from queuelab.core.validation import ParamChange
from queuelab.io.frames_csv import write_frames_csv
from queuelab.sim.engine import SimEngine

BASE = Scenario()


def scenario(**sections: dict[str, Any]) -> Scenario:
    s = replace(BASE, run=replace(BASE.run, duration=900.0, warmup=60.0, sample_interval=2.0))
    for name, values in sections.items():
        s = replace(s, **{name: replace(getattr(s, name), **values)})
    return s


SCENARIOS = {
    "mmc": scenario(),
    "retries": scenario(failures={"probability": 0.2, "poison_fraction": 0.02},
                        retry={"max_attempts": 3, "base_delay": 0.5, "jitter": "full"}),
    "inline": scenario(failures={"probability": 0.2},
                       retry={"max_attempts": 4, "mode": "inline", "jitter": "equal"}),
    "timeouts": scenario(timeouts={"task": 0.4}, retry={"max_attempts": 2}),
    "dynamic": scenario(arrivals={"process": "bursty", "rate": 2.0, "burst_rate": 12.0,
                                  "burst_length": 60.0, "quiet_length": 120.0},
                        pool={"strategy": "dynamic", "workers": 2, "min_workers": 1,
                              "max_workers": 10, "scale_up_threshold": 10.0,
                              "scale_down_threshold": 2.0, "check_interval": 5.0,
                              "startup_delay": 3.0},
                        failures={"probability": 0.05}),
    "single-lognormal": scenario(pool={"strategy": "single"},
                                 arrivals={"process": "constant", "rate": 1.5},
                                 service={"distribution": "lognormal", "mean": 0.5,
                                          "sigma": 0.8}),
}


def run(s: Scenario, fast: bool, tmp: Path, name: str,
        change: ParamChange | None = None) -> tuple[bytes, Any, list[str]]:
    e = SimEngine(s)
    e.fast_path = fast
    if change is not None:
        e.run_until(s.run.duration / 2)
        e.apply(change)
    e.run()
    path = tmp / f"{name}-{'fast' if fast else 'general'}.csv"
    write_frames_csv(path, e.take_frames())
    page = asyncio.run(e.dead_letters(DeadLetterQuery(limit=1_000_000)))
    dead = [f"{d.task.id} {d.error_kind} {d.task.attempts} {d.dead_lettered_at!r}"
            for d in page.items]
    return path.read_bytes(), e.totals().check(), dead


@pytest.mark.parametrize("name", SCENARIOS)
def test_inlined_and_general_paths_write_the_same_frames(name: str, tmp_path: Path) -> None:
    s = SCENARIOS[name]
    fast, general = run(s, True, tmp_path, name), run(s, False, tmp_path, name)
    assert fast[0] == general[0]
    assert fast[1:] == general[1:]
    assert fast[0].count(b"\n") > 100


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(1, 10_000),
    rate=st.floats(0.5, 6.0),
    workers=st.integers(1, 6),
    p_fail=st.sampled_from([0.0, 0.05, 0.3]),
    mode=st.sampled_from(["requeue", "inline"]),
    timeout=st.sampled_from([0.0, 0.3, 2.0]),
    change=st.sampled_from([None, ParamChange("pool.workers", 2),
                            ParamChange("failures.probability", 0.5),
                            ParamChange("arrivals.rate", 8.0)]),
)
def test_any_fixed_pool_scenario_runs_the_same_both_ways(
        tmp_path_factory: pytest.TempPathFactory, seed: int, rate: float, workers: int,
        p_fail: float, mode: str, timeout: float, change: ParamChange | None) -> None:
    s = scenario(run={"seed": seed, "duration": 300.0},
                 arrivals={"process": "poisson", "rate": rate},
                 pool={"strategy": "fixed", "workers": workers},
                 failures={"probability": p_fail, "poison_fraction": 0.01},
                 retry={"max_attempts": 3, "mode": mode}, timeouts={"task": timeout})
    tmp = tmp_path_factory.mktemp("paths")
    fast = run(s, True, tmp, "h", change)
    general = run(s, False, tmp, "h", change)
    assert fast == general
