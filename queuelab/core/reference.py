"""Which scenarios queueing theory can predict exactly, and what it predicts for them.

A scenario is M/M/c when arrivals are Poisson at a constant rate, service times are
exponential, every attempt succeeds, nothing times out or trips a breaker and c servers
work without cold starts. Then Erlang C gives the mean wait the simulator must match; the
priority discipline does not change the overall mean wait (work conservation), so it is
allowed.
"""

from __future__ import annotations

from queuelab.core.scenario import Scenario
from queuelab.core.theory import MMcPrediction, erlang_c


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
    if s.failures.probability > 0 or s.failures.poison_fraction > 0:
        return "attempts fail, so retries add load that Erlang C does not model"
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
    return None


def mmc_reference(scenario: Scenario) -> MMcPrediction | None:
    """Erlang C's prediction for an M/M/c scenario, or None when the scenario is not one."""
    if why_not_mmc(scenario) is not None:
        return None
    c = servers_of(scenario)
    assert c is not None
    return erlang_c(scenario.arrivals.rate, 1.0 / scenario.service.mean, c)
