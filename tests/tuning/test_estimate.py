"""A sweep's time told before it starts, and the smaller sweeps offered instead."""

from __future__ import annotations

from queuelab.core.scenario import Scenario
from queuelab.tuning.axes import Axis
from queuelab.tuning.estimate import (
    describe,
    fewer_points,
    fewer_seeds,
    runs_of,
    seconds_per_run,
    sweep_seconds,
)
from queuelab.tuning.spec import Sweep


def _sweep(n: int = 9, seeds: int = 6) -> Sweep:
    return Sweep(Scenario(), (Axis("pool.workers", tuple(range(1, n + 1))),
                              Axis("retry.jitter", ("none", "full"))), replications=seeds)


def test_runs_spread_in_waves_over_the_slots() -> None:
    s = _sweep()
    assert runs_of(s) == 9 * 2 * 6
    assert sweep_seconds(s, 2.0, 4) == 27 * 2.0
    assert sweep_seconds(s, 2.0, 1) == 108 * 2.0


def test_fewer_points_keeps_both_ends_and_fewer_seeds_keeps_an_interval() -> None:
    s = fewer_points(_sweep())
    assert s.axes[0].values == (1, 3, 5, 7, 9) and s.axes[1].values == ("none", "full")
    assert fewer_points(_sweep(n=4)).axes[0].values == (1, 3, 4)
    assert fewer_seeds(_sweep(seeds=6)).replications == 3
    assert fewer_seeds(_sweep(seeds=3)).replications == 2
    assert fewer_seeds(_sweep(seeds=1)).replications == 1


def test_one_run_is_measured_and_said_in_words() -> None:
    assert 0 < seconds_per_run(Scenario()) < 60
    assert describe(30) == "about 30 s" and describe(600) == "about 10 min"
    assert describe(3 * 3600) == "about 3.0 h"
