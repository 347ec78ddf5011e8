"""The hockey stick: mean wait in queue against utilization, pooled against separate queues.

The single picture a queueing course opens with: the wait stays small while ρ is moderate
and explodes as ρ → 1. For c servers at rate μ each, the pooled curve is one M/M/c queue at
λ = ρcμ (Erlang C); the separate curve is c M/M/1 queues each taking λ/c, whose mean wait
ρ/(μ(1-ρ)) is the same at every queue. Same utilization, very different waits: that gap is
what pooling buys. Pure: the window draws it and the tests check it against worked values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queuelab.core.reference import servers_of, why_not_mmc
from queuelab.core.scenario import Scenario
from queuelab.core.theory import erlang_c

TOP_RHO = 0.98  # the curves stop here: at ρ = 1 there is no steady state to draw
CURVE_POINTS = 99
CAP_RHO = 0.9  # the y cap is the separate queues' wait at this ρ (9 mean services)
SWEEP_RHOS = (0.3, 0.5, 0.7, 0.8, 0.9)  # the quick sweep's utilizations


def rho_grid(points: int = CURVE_POINTS, top: float = TOP_RHO) -> tuple[float, ...]:
    """`points` utilizations evenly spaced from 0 to `top` (both included)."""
    if points < 2:
        raise ValueError(f"points: must be >= 2 ({points})")
    if not 0.0 < top < 1.0:
        raise ValueError(f"top: must be within (0, 1) ({top})")
    return tuple(top * i / (points - 1) for i in range(points))


def pooled_wait(rho: float, servers: int, service_rate: float) -> float:
    """Mean wait in queue of one M/M/c queue at utilization ρ (inf at ρ >= 1)."""
    return erlang_c(rho * servers * service_rate, service_rate, servers).wq


def separate_wait(rho: float, service_rate: float) -> float:
    """Mean wait of each of c separate M/M/1 queues taking λ/c, i.e. at utilization ρ."""
    return erlang_c(rho * service_rate, service_rate, 1).wq


@dataclass(frozen=True, slots=True)
class HockeyStick:
    """Both theory curves for a pool of `servers` at `service_rate`, and where it runs now."""

    servers: int
    service_rate: float  # μ per worker, 1/s
    rho: tuple[float, ...]
    pooled: tuple[float, ...]  # Wq, s: one shared M/M/c queue
    separate: tuple[float, ...]  # Wq, s: c separate M/M/1 queues
    current_rho: float  # the scenario's λ/(cμ); may be >= 1 (then off the curve)
    approximation: str | None  # None: the scenario is M/M/c; else why the curve only approximates
    cap: float  # the y axis stops here so the explosion near ρ → 1 stays readable

    @property
    def current_wait(self) -> float:
        """Erlang C's wait at the current utilization (inf when it is >= 1)."""
        return pooled_wait(self.current_rho, self.servers, self.service_rate)


def hockey_stick(servers: int, service_rate: float, current_rho: float = math.nan,
                 approximation: str | None = None,
                 rhos: tuple[float, ...] | None = None) -> HockeyStick:
    """The curves over `rhos` (default `rho_grid()`)."""
    grid = rho_grid() if rhos is None else rhos
    pooled = tuple(pooled_wait(r, servers, service_rate) for r in grid)
    separate = tuple(separate_wait(r, service_rate) for r in grid)
    cap = separate_wait(CAP_RHO, service_rate)
    return HockeyStick(servers, service_rate, grid, pooled, separate, current_rho,
                       approximation, cap)


def for_scenario(scenario: Scenario) -> HockeyStick | str:
    """The scenario's hockey stick, or why there is none (the pool has no fixed size).

    A scenario that is not M/M/c still gets the curves of its M/M/c approximation (same
    rate, same mean service, same c), with the reason it only approximates.
    """
    c = servers_of(scenario)
    if c is None:
        return ("the dynamic pool changes the number of servers, so there is no single "
                "utilization curve")
    mu = 1.0 / scenario.service.mean
    rho = scenario.arrivals.rate / (c * mu)
    return hockey_stick(c, mu, rho, why_not_mmc(scenario))


def sweep_rates(servers: int, service_rate: float,
                rhos: tuple[float, ...] = SWEEP_RHOS) -> tuple[float, ...]:
    """The arrival rates λ = ρcμ that put a pool at each utilization of `rhos`."""
    return tuple(r * servers * service_rate for r in rhos)


__all__ = ["CAP_RHO", "SWEEP_RHOS", "TOP_RHO", "HockeyStick", "for_scenario", "hockey_stick",
           "pooled_wait", "rho_grid", "separate_wait", "sweep_rates"]
