"""Measured hockey-stick points: a sweep of the arrival rate lands on Erlang C."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from queuelab.core.hockey import pooled_wait, separate_wait
from queuelab.core.scenario import Scenario
from queuelab.tuning import LocalPool, points_of, run_sweep
from queuelab.tuning.hockey import (
    RATE_PATH,
    MeasuredPoint,
    hockey_sweep,
    measured_points,
    separate_sweep,
)
from queuelab.tuning.spec import Sweep

RHOS = (0.3, 0.5, 0.7, 0.8)


def mm2(duration: float = 6000.0) -> Scenario:
    s = Scenario()
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=200.0, seed=7, sample_interval=10.0),
        arrivals=replace(s.arrivals, process="poisson", rate=1.0),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="fixed", workers=2),
    )


def test_sweep_sets_the_rates_and_common_seeds() -> None:
    sweep = hockey_sweep(mm2(), RHOS, replications=4)
    assert sweep.paths == (RATE_PATH,)
    assert sweep.axes[0].values == pytest.approx((0.6, 1.0, 1.4, 1.6))
    assert sweep.seeds == (7, 8, 9, 10)  # every point runs these: common random numbers
    with pytest.raises(ValueError, match="dynamic pool"):
        hockey_sweep(replace(mm2(), pool=replace(mm2().pool, strategy="dynamic")))


def _land_on(sweep: Sweep, theory: Callable[[float], float]) -> list[MeasuredPoint]:
    """Run the sweep; each point's mean wait within twice its interval of `theory(ρ)`, all
    but one of the intervals holding it. The points, for more checks."""
    with LocalPool(2) as pool:
        stats = points_of(sweep, run_sweep(sweep, pool))
    points = measured_points(sweep, stats)
    assert [p.rho for p in points] == pytest.approx(RHOS)
    inside = 0
    for p in points:
        want = theory(p.rho)
        e = p.mean_wait
        assert p.status == "ok" and e.n == 5 and e.half_width > 0
        assert abs(e.mean - want) <= 2 * e.half_width, (p.rho, e, want)
        inside += e.low <= want <= e.high
    assert inside >= len(RHOS) - 1, f"only {inside} of {len(RHOS)} intervals hold the theory"
    return points


def test_measured_points_land_on_erlang_c() -> None:
    points = _land_on(hockey_sweep(mm2(), RHOS, replications=5),
                      lambda rho: pooled_wait(rho, 2, 1.0))
    for p in points:
        assert p.utilization.mean == pytest.approx(p.rho, abs=0.03)


def test_one_separate_queue_lands_on_mm1() -> None:
    """The separate-queues points: one queue at λ/c with one worker, the same seeds, lands on
    M/M/1's wait at each utilization (by symmetry, the wait at each of the c queues)."""
    sweep = separate_sweep(mm2(), RHOS, replications=5)
    assert sweep.scenario.pool.strategy == "single"
    assert sweep.axes[0].values == pytest.approx(RHOS)  # λ/c = ρμ with μ = 1
    assert sweep.seeds == hockey_sweep(mm2(), RHOS, replications=5).seeds
    points = _land_on(sweep, lambda rho: separate_wait(rho, 1.0))
    for p in points:
        assert p.mean_wait.mean > pooled_wait(p.rho, 2, 1.0)  # a separate queue waits longer
