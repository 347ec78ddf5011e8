"""The hockey stick: mean wait in queue against utilization, pooled against separate queues.

The single picture a queueing course opens with: the wait stays small while ρ is moderate
and explodes as ρ → 1. For c servers at rate μ each, the pooled curve is one M/M/c queue at
λ = ρcμ (Erlang C); the separate curve is c M/M/1 queues each taking λ/c, whose mean wait
ρ/(μ(1-ρ)) is the same at every queue. Same utilization, very different waits: that gap is
what pooling buys. A bounded queue (`[queue] max_length`, 0 = unbounded) gets M/M/c/K's
curves instead: the wait of the tasks admitted, which flattens as the bound turns the rest
away. Pure: the window draws it and the tests check it against worked values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queuelab.core.reference import servers_of, why_not_mmc, why_not_mmck
from queuelab.core.scenario import Scenario
from queuelab.core.theory import erlang_c, mmck

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


def pooled_wait(rho: float, servers: int, service_rate: float, max_length: int = 0) -> float:
    """Mean wait in queue of one M/M/c queue at offered utilization ρ (inf at ρ >= 1); with
    room for `max_length` waiting (load shedding), M/M/c/K's wait of the admitted tasks."""
    if max_length:
        if rho <= 0.0:
            return 0.0
        lam = rho * servers * service_rate
        return mmck(lam, service_rate, servers, servers + max_length).wq
    return erlang_c(rho * servers * service_rate, service_rate, servers).wq


def separate_wait(rho: float, service_rate: float, max_length: int = 0) -> float:
    """Mean wait of each of c separate M/M/1 queues taking λ/c, i.e. at utilization ρ (each
    with room for `max_length` waiting when bounded: M/M/1/K)."""
    return pooled_wait(rho, 1, service_rate, max_length)


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
    max_length: int = 0  # a bounded queue's waiting room: the curves are then M/M/c/K's

    @property
    def pooled_name(self) -> str:
        if self.max_length:
            return f"M/M/{self.servers}/{self.servers + self.max_length}"
        return f"M/M/{self.servers}"

    @property
    def separate_name(self) -> str:
        return f"M/M/1/{1 + self.max_length}" if self.max_length else "M/M/1"

    @property
    def current_wait(self) -> float:
        """The theory's wait at the current utilization (Erlang C's inf when it is >= 1)."""
        return pooled_wait(self.current_rho, self.servers, self.service_rate, self.max_length)


def hockey_stick(servers: int, service_rate: float, current_rho: float = math.nan,
                 approximation: str | None = None,
                 rhos: tuple[float, ...] | None = None, max_length: int = 0) -> HockeyStick:
    """The curves over `rhos` (default `rho_grid()`); M/M/c/K's and M/M/1/K's when the queue
    holds at most `max_length` waiting. The y cap stays the unbounded queues' (9 mean
    services), so a bounded pool's lower, flattening curves read against the same scale."""
    grid = rho_grid() if rhos is None else rhos
    pooled = tuple(pooled_wait(r, servers, service_rate, max_length) for r in grid)
    separate = tuple(separate_wait(r, service_rate, max_length) for r in grid)
    cap = separate_wait(CAP_RHO, service_rate)
    return HockeyStick(servers, service_rate, grid, pooled, separate, current_rho,
                       approximation, cap, max_length)


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
    bound = scenario.queue.max_length  # 0: unbounded (the scenario format's meaning)
    why = why_not_mmck(scenario) if bound else why_not_mmc(scenario)
    return hockey_stick(c, mu, rho, why, max_length=bound)


def sweep_rates(servers: int, service_rate: float,
                rhos: tuple[float, ...] = SWEEP_RHOS) -> tuple[float, ...]:
    """The arrival rates λ = ρcμ that put a pool at each utilization of `rhos`."""
    return tuple(r * servers * service_rate for r in rhos)


__all__ = ["CAP_RHO", "SWEEP_RHOS", "TOP_RHO", "HockeyStick", "for_scenario", "hockey_stick",
           "pooled_wait", "rho_grid", "separate_wait", "sweep_rates"]
