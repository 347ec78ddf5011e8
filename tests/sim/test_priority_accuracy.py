"""The priority discipline against Cobham's non-preemptive per-class waits (M/M/c, one
service rate), two worked examples: one worker with λ = (0.3, 0.5) for
the high and the low class and μ = 1 gives Wq = (1.142857, 5.714286); ten workers with
λ = (3, 5) give (0.058454, 0.292272). Eight replications give each class's 95 % interval
(Student's t over the runs' means); the measured mean must lie inside twice it, and most
inside once, as the Erlang C accuracy tests ask. A run's mean wait per level is the
simulator's `wait_by_level` (after the warm-up, lowest level first).
"""

from __future__ import annotations

import statistics
from dataclasses import replace

import pytest

from queuelab.core.scenario import Scenario
from queuelab.core.theory import priority_waits
from queuelab.sim.engine import SimEngine

SEEDS = range(1, 9)
T_975_7 = 2.365  # Student's t, 7 degrees of freedom


def classes(seed: int, high: float, low: float, workers: int, duration: float) -> Scenario:
    s = Scenario()
    total = high + low
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=duration * 0.02, seed=seed,
                    sample_interval=duration / 100),
        arrivals=replace(s.arrivals, process="poisson", rate=total),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="single" if workers == 1 else "fixed", workers=workers),
        priorities=replace(s.priorities, weights=(low / total, high / total)),  # last: highest
        queue=replace(s.queue, discipline="priority"),
    )


@pytest.mark.parametrize(("high", "low", "workers", "duration", "worked"), [
    (0.3, 0.5, 1, 50_000.0, (1.142857, 5.714286)),
    (3.0, 5.0, 10, 10_000.0, (0.058454, 0.292272)),
])
def test_per_class_waits_match_cobham(high: float, low: float, workers: int, duration: float,
                                      worked: tuple[float, float]) -> None:
    cobham = priority_waits((high, low), 1.0, workers)
    assert cobham == pytest.approx(worked, abs=1e-6)
    runs = []
    for seed in SEEDS:
        engine = SimEngine(classes(seed, high, low, workers, duration))
        engine.run()
        engine.totals().check()
        by_level = engine.summary().extras["wait_by_level"]
        runs.append((by_level[1], by_level[0]))  # high, low
    inside = 0
    for k, want in enumerate(cobham):
        values = [r[k] for r in runs]
        mean = statistics.fmean(values)
        half = T_975_7 * statistics.stdev(values) / len(values) ** 0.5
        assert abs(mean - want) <= 2 * half, (k, mean, half, want)
        inside += abs(mean - want) <= half
    assert inside >= 1
    assert all(high_wait < low_wait for high_wait, low_wait in runs)  # in every run
