"""Measured points of the hockey stick: a quick sweep of the arrival rate over utilizations.

The sweep varies only `arrivals.rate`, to λ = ρcμ for each ρ of `core.hockey.SWEEP_RHOS`,
and runs every point with the same seeds (common random numbers), so the points differ by
their load alone. Each point's mean wait comes back with its t-based 95 % interval over the
replications (`tuning.stats`), which is what it is compared with the theory by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from queuelab.core.hockey import SWEEP_RHOS, sweep_rates
from queuelab.core.reference import servers_of
from queuelab.core.scenario import Scenario
from queuelab.tuning.axes import axis_from
from queuelab.tuning.spec import Sweep
from queuelab.tuning.stats import Estimate, PointStats

RATE_PATH = "arrivals.rate"
REPLICATIONS = 5


@dataclass(frozen=True, slots=True)
class MeasuredPoint:
    """One swept utilization: the nominal ρ, its arrival rate, and the waits measured."""

    rho: float  # λ/(cμ) as set, the x of the chart
    rate: float  # λ, 1/s
    mean_wait: Estimate  # s, over the replications
    utilization: Estimate  # what the runs measured: busy / live worker-seconds
    status: str  # ok | invalid | failed
    reason: str


def hockey_sweep(scenario: Scenario, rhos: tuple[float, ...] = SWEEP_RHOS,
                 replications: int = REPLICATIONS) -> Sweep:
    """The sweep of the scenario's arrival rate over `rhos`, its own seed first (ValueError
    when the pool has no fixed size: there is no utilization to set)."""
    c = servers_of(scenario)
    if c is None:
        raise ValueError("the dynamic pool changes the number of servers: no utilization "
                         "to sweep")
    rates = sweep_rates(c, 1.0 / scenario.service.mean, rhos)
    axis = axis_from(RATE_PATH, [float(f"{r:.6g}") for r in rates], "hockey.rate")
    return Sweep(scenario=scenario, axes=(axis,), name="Hockey stick",
                 replications=replications, first_seed=scenario.run.seed)


def separate_sweep(scenario: Scenario, rhos: tuple[float, ...] = SWEEP_RHOS,
                   replications: int = REPLICATIONS) -> Sweep:
    """The sweep of one of the c separate queues: by symmetry each takes λ/c with one worker
    at the same utilization, so one M/M/1 queue (the scenario's queue, one worker) swept
    over `rhos` measures the separate-queues curve; the same seeds as `hockey_sweep`."""
    if servers_of(scenario) is None:
        raise ValueError("the dynamic pool changes the number of servers: no utilization "
                         "to sweep")
    one = replace(scenario, pool=replace(scenario.pool, strategy="single", workers=1))
    sweep = hockey_sweep(one, rhos, replications)
    return replace(sweep, name="Hockey stick, one of the separate queues")


def measured_points(sweep: Sweep, stats: Iterable[PointStats]) -> list[MeasuredPoint]:
    """Each finished point of a `hockey_sweep` on the chart's axes."""
    c = servers_of(sweep.scenario)
    assert c is not None  # hockey_sweep refused the others
    capacity = c / sweep.scenario.service.mean
    return [MeasuredPoint(float(p.values[0]) / capacity, float(p.values[0]),
                          p.get("mean_wait"), p.get("utilization"), p.status, p.reason)
            for p in stats]


__all__ = ["RATE_PATH", "REPLICATIONS", "MeasuredPoint", "hockey_sweep", "measured_points"]
