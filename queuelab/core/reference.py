"""Which scenarios queueing theory can predict, and what it predicts for them.

A scenario is M/M/c when arrivals are Poisson at a constant rate, service times are
exponential, every attempt succeeds, nothing times out or trips a breaker and c servers
work without cold starts. Then Erlang C gives the mean wait the simulator must match; the
priority discipline does not change the overall mean wait (work conservation), so it is
allowed. The formulas beyond Erlang C (`core.theory`) each have a `why_not_*` here in the
same style: None when its assumptions hold, else the first one the scenario breaks.

`offered_rate` is the one line of theory every scenario has: the load its arrival process
offers, λ(t), which the rate plot draws beside the arrivals measured and the completions
served.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from queuelab.core.models import scenario_arrivals
from queuelab.core.scenario import Scenario
from queuelab.core.service import make_service
from queuelab.core.theory import MMcKPrediction, MMcPrediction, erlang_c, mmck

if TYPE_CHECKING:
    from numpy.typing import NDArray

ARRIVAL_SCV = {"poisson": 1.0, "constant": 0.0}
"""Interarrival SCV (variance / mean²) of the renewal arrival processes; the others
(bursts, ramps, waves, spikes, traces) are not renewal processes at one rate."""


def offered_rate(scenario: Scenario, times: Sequence[float] | NDArray[np.float64]
                 ) -> NDArray[np.float64]:
    """The expected rate of fresh arrivals, λ(t) in tasks/s, of the scenario's arrival process
    at each of `times` (scenario seconds from the run's start, where ramps, spikes, bursts and
    waves are laid out), whatever the rest of the scenario: a client's retries are not in it.

    Flat at `rate` for poisson and constant; the process's own shape otherwise. A trace has
    no λ: its local density (arrivals per second in a window around t) stands in for it. The
    process is built as the engines build it (`core.models.scenario_arrivals`) on an rng it
    never draws from, so asking costs the run no draw.
    """
    rate_at = scenario_arrivals(scenario, random.Random(0)).rate_at
    return np.fromiter((rate_at(float(t)) for t in times), dtype=np.float64,
                       count=len(times))


def servers_of(scenario: Scenario) -> int | None:
    """The fixed number of servers c, or None when the pool changes size."""
    p = scenario.pool
    if p.strategy == "single":
        return 1
    if p.strategy == "fixed":
        return p.workers
    if p.strategy == "semaphore":
        return p.concurrency
    return None


def why_not_mmc(scenario: Scenario) -> str | None:
    """None when the scenario is M/M/c; otherwise the first reason it is not, in words."""
    s = scenario
    if s.arrivals.process != "poisson":
        return f"arrivals are {s.arrivals.process}, not Poisson at a constant rate"
    if s.service.distribution != "exponential":
        return f"service times are {s.service.distribution}, not exponential"
    return _disturbed(s)


def _disturbed(s: Scenario, *, bounded: bool = False) -> str | None:
    """What, beyond the arrival and service laws, takes a scenario out of every formula here:
    retried failures, cut service, a breaker, a changing pool, prefetch, a timeline, callers
    that retry or whose tasks are dropped, and (unless the formula is for a `bounded`
    queue) load shedding."""
    if s.queue.max_length and not bounded:
        return ("the queue is bounded (max_length): arrivals are turned away, so it is "
                "M/M/c/K's, not an unbounded queue's")
    if s.failures.probability > 0 or s.failures.poison_fraction > 0:
        return "attempts fail, so retries add load that the formulas do not model"
    if s.timeouts.task > 0:
        return "a task timeout cuts service times short"
    if s.breaker.enabled:
        return "a circuit breaker can stop the servers"
    if servers_of(s) is None:
        return "the dynamic pool changes the number of servers"
    if s.pool.strategy == "semaphore" and s.pool.prefetch > 0:
        return "prefetch holds tasks outside the queue"
    if s.timeline:
        return "the timeline changes knobs while the run goes on: no single steady state"
    if s.clients.timeout > 0 and (s.clients.retries > 0 or s.clients.drop_expired):
        return ("callers give up after clients.timeout: their retries add load and dropped "
                "tasks leave unserved, which the formulas (of patient callers) do not model")
    return None


def mmc_reference(scenario: Scenario) -> MMcPrediction | None:
    """Erlang C's prediction for an M/M/c scenario, or None when the scenario is not one."""
    if why_not_mmc(scenario) is not None:
        return None
    c = servers_of(scenario)
    assert c is not None
    return erlang_c(scenario.arrivals.rate, 1.0 / scenario.service.mean, c)


def service_moments(scenario: Scenario) -> tuple[float, float]:
    """The service time's mean and SCV as the engines draw it (a uniform's mean is
    (low + high) / 2, an empirical one's its samples'); the SCV is inf for a Pareto tail of
    shape <= 2."""
    v = scenario.service
    model = make_service(v.distribution, random.Random(0), mean=v.mean, low=v.low,
                         high=v.high, sigma=v.sigma, shape=v.shape, samples=v.samples)
    return model.mean, model.scv


def _renewal(s: Scenario) -> str | None:
    if s.arrivals.process not in ARRIVAL_SCV:
        return (f"arrivals are {s.arrivals.process}: not a renewal process at one rate "
                f"(poisson or constant)")
    return None


def _finite_variance(s: Scenario) -> str | None:
    if not math.isfinite(service_moments(s)[1]):
        return "the Pareto service time has infinite variance (shape <= 2)"
    return None


def why_not_mg1(scenario: Scenario) -> str | None:
    """Pollaczek-Khinchine (M/G/1): Poisson arrivals, one server, any service law with a
    finite variance, a non-preemptive order blind to job sizes."""
    s = scenario
    if s.arrivals.process != "poisson":
        return f"arrivals are {s.arrivals.process}, not Poisson at a constant rate"
    if servers_of(s) != 1:
        return "more than one server (M/G/1 has one)"
    return _finite_variance(s) or _disturbed(s)


def why_not_kingman(scenario: Scenario) -> str | None:
    """Kingman (G/G/1, an approximation): renewal arrivals, one server, finite variance."""
    s = scenario
    if servers_of(s) != 1:
        return "more than one server (Kingman's formula is for one)"
    return _renewal(s) or _finite_variance(s) or _disturbed(s)


def why_not_ggc(scenario: Scenario) -> str | None:
    """Allen-Cunneen (G/G/c, an approximation): renewal arrivals, a fixed number of servers,
    finite variance."""
    s = scenario
    return _renewal(s) or _finite_variance(s) or _disturbed(s)


def why_not_priority(scenario: Scenario) -> str | None:
    """Cobham's non-preemptive priority per class (M/M/c, one service rate): an M/M/c
    scenario whose queue serves priority levels."""
    s = scenario
    if s.queue.discipline != "priority":
        return "the queue is FIFO (discipline = priority gives per-class waits)"
    if sum(1 for w in s.priorities.weights if w > 0) < 2:
        return "fewer than two priority levels carry tasks"
    return why_not_mmc(s)


def why_not_mmck(scenario: Scenario) -> str | None:
    """M/M/c/K (blocking): M/M/c with `[queue] max_length` waiting places, K = c + max_length."""
    s = scenario
    if not s.queue.max_length:
        return "the queue is unbounded (set [queue] max_length for load shedding)"
    if s.arrivals.process != "poisson":
        return f"arrivals are {s.arrivals.process}, not Poisson at a constant rate"
    if s.service.distribution != "exponential":
        return f"service times are {s.service.distribution}, not exponential"
    return _disturbed(s, bounded=True)


def mmck_reference(scenario: Scenario) -> MMcKPrediction | None:
    """M/M/c/K's prediction for a bounded M/M/c scenario, or None when it is not one."""
    if why_not_mmck(scenario) is not None:
        return None
    c = servers_of(scenario)
    assert c is not None
    return mmck(scenario.arrivals.rate, 1.0 / scenario.service.mean, c,
                c + scenario.queue.max_length)


def why_not_erlang_b(scenario: Scenario) -> str | None:
    """Erlang B (M/G/c/c, a loss system): Poisson arrivals and c servers; the service law
    does not matter (the formula is insensitive to it). No scenario is a pure loss system,
    since `max_length = 0` means an unbounded queue, so the Theory tab gives it as the
    blocking the same pool would see with no room to wait."""
    s = scenario
    if s.arrivals.process != "poisson":
        return f"arrivals are {s.arrivals.process}, not Poisson at a constant rate"
    return _disturbed(s, bounded=True)


def why_not_relaxation(scenario: Scenario) -> str | None:
    """The relaxation time (warm-up): M/M/c at a load below capacity. (Square-root staffing
    needs M/M/c only: the number of servers is what it answers.)"""
    reason = why_not_mmc(scenario)
    if reason is not None:
        return reason
    pred = mmc_reference(scenario)
    if pred is not None and not pred.stable:
        return "the load is at or above capacity: the queue never settles"
    return None
