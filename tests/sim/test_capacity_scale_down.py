"""Lesson 7's pool simulated: a backlog threshold flaps; the capacity-aware scale-down
(`pool.scale_down_max_utilization`) stops it on the rates the simulator measured."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from queuelab.core import scenario_toml
from queuelab.core.scenario import Scenario
from queuelab.sim.engine import SimEngine

FLAP = """
run = { duration = 600.0, warmup = 60.0, seed = %d }
arrivals = { process = "poisson", rate = 95.0 }
service = { distribution = "exponential", mean = 0.1 }
pool = { strategy = "dynamic", workers = 9, min_workers = 9, max_workers = 12, \
check_interval = 5.0, autoscaler = "threshold", scale_up_threshold = 50.0, \
scale_down_threshold = 10.0 }
"""


def worker_changes_and_peak_backlog(s: Scenario) -> tuple[int, int, int]:
    """Worker-count changes after the warm-up, removals over the whole run, and the largest
    backlog after the warm-up."""
    engine = SimEngine(s)
    engine.start()
    engine.run_until(s.run.duration)
    every = engine.take_frames()
    removals = sum(b.workers < a.workers for a, b in pairwise(every))
    frames = [f for f in every if f.t > s.run.warmup]
    changes = sum(a.workers != b.workers for a, b in pairwise(frames))
    return changes, removals, max(f.depth for f in frames)


@pytest.mark.parametrize("seed", [7, 11, 12])
def test_flapping_without_the_rule_and_hardly_a_change_with_it(seed: int) -> None:
    s = scenario_toml.loads(FLAP % seed)
    flapping, flap_removals, flap_backlog = worker_changes_and_peak_backlog(s)
    rule = replace(s, pool=replace(s.pool, scale_down_max_utilization=0.8))
    steady, removals, steady_backlog = worker_changes_and_peak_backlog(rule)
    assert flapping >= 40 and flap_removals >= 20  # a cycle every 15-20 s, for ever
    # below 12 workers 95/s leaves no 20 % headroom: no worker is ever removed, and after
    # the warm-up at most the last climbs to 11 or 12 happen
    assert removals == 0 and steady <= 2
    assert flap_backlog > 100 and steady_backlog < 150  # bounded: ρ ≤ 0.95 once at 10


def test_an_oversized_pool_shrinks_to_what_the_measured_load_needs() -> None:
    # 16 workers, floor 1: the rule lets the pool shrink while 95/s still leaves 20 %
    # headroom, and stops at ⌈95 / (0.8 × 10)⌉ = 12 (it never saw the scenario's 95 or 10)
    s = scenario_toml.loads(FLAP % 3)
    s = replace(s, pool=replace(s.pool, workers=16, min_workers=1, max_workers=16,
                                scale_down_max_utilization=0.8))
    engine = SimEngine(s)
    engine.start()
    engine.run_until(s.run.duration)
    counts = [f.workers for f in engine.take_frames()]
    assert counts[0] == 16 and min(counts) == counts[-1] == 12
