"""Queueing theory drawn over the measured curves: Erlang C (M/M/c) and Little's law.

With Poisson arrivals at rate λ, exponential service at rate μ per worker and c workers, the
M/M/c queue has closed forms; the simulator must reproduce them, and the plots show them as
the line a tuning is measured against. Erlang C is computed through the Erlang B recursion
B(k) = a·B(k-1) / (k + a·B(k-1)), which stays within [0, 1] at every step, so c = 1000 is as
safe as c = 1 (the textbook formula with a^c/c! overflows long before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queuelab.core.checks import integer, number

INF = math.inf


@dataclass(frozen=True, slots=True)
class MMcPrediction:
    """Steady-state M/M/c figures. When unstable (rho >= 1) the queue grows without bound:
    p_wait = 1 and lq, wq, w, l are inf."""

    arrival_rate: float  # λ, tasks per second
    service_rate: float  # μ, tasks per second per worker
    servers: int  # c
    rho: float  # per-worker utilization λ/(cμ)
    offered_load: float  # a = λ/μ, in Erlangs: the mean number of busy workers
    p_wait: float  # Erlang C: the probability an arrival has to wait
    lq: float  # mean number waiting
    wq: float  # mean wait in queue
    w: float  # mean time in system, wq + 1/μ
    l: float  # mean number in system, lq + a  # noqa: E741
    stable: bool


def erlang_b(offered_load: float, servers: int) -> float:
    """Erlang B blocking probability for offered load a on c servers (iterative, stable)."""
    if servers < 0:
        raise ValueError(f"servers: must be >= 0 ({servers})")
    if offered_load < 0:
        raise ValueError(f"offered_load: must be >= 0 ({offered_load})")
    b = 1.0
    for k in range(1, servers + 1):
        ab = offered_load * b
        b = ab / (k + ab)
    return b


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> MMcPrediction:
    """M/M/c steady state; see MMcPrediction. Raises ValueError on a meaningless input."""
    number("arrival_rate", arrival_rate, minimum=0.0)
    number("service_rate", service_rate, above=0.0)
    c = integer("servers", servers, minimum=1)
    a = arrival_rate / service_rate
    rho = a / c
    if rho >= 1.0:
        return MMcPrediction(
            arrival_rate, service_rate, c, rho, a, 1.0, INF, INF, INF, INF, stable=False
        )
    b = erlang_b(a, c)
    p_wait = b / (1.0 - rho * (1.0 - b))  # = c·B / (c - a·(1 - B))
    wq = p_wait / (c * service_rate - arrival_rate)
    lq = arrival_rate * wq  # = C·ρ/(1-ρ)
    w = wq + 1.0 / service_rate
    return MMcPrediction(
        arrival_rate, service_rate, c, rho, a, p_wait, lq, wq, w, lq + a, stable=True
    )


def wait_quantile(pred: MMcPrediction, q: float) -> float:
    """The q-quantile of the M/M/c wait in queue.

    P(Wq > t) = C·exp(-(cμ-λ)t): a fraction 1-C never waits, so the quantile is 0 up to
    q = 1-C and grows logarithmically after. inf when unstable or q = 1.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q: must be within [0, 1] ({q})")
    if not pred.stable or q == 1.0:
        return INF
    if q <= 1.0 - pred.p_wait:
        return 0.0
    theta = pred.servers * pred.service_rate - pred.arrival_rate
    return math.log(pred.p_wait / (1.0 - q)) / theta


def littles_law(arrival_rate: float, mean_time: float) -> float:
    """L = λW: the mean number inside any stable system from its throughput and mean stay."""
    return arrival_rate * mean_time


def littles_law_residual(l: float, lam: float, w: float) -> float:  # noqa: E741
    """How far a measured L is from λW, relatively: |L - λW| / max(|L|, |λW|), 0 if both 0.

    Symmetric and within [0, 1] for non-negative inputs, so one threshold (say 5 %) serves a
    nearly empty system and a loaded one alike.
    """
    predicted = lam * w
    scale = max(abs(l), abs(predicted))
    if scale == 0.0:
        return 0.0
    return abs(l - predicted) / scale
