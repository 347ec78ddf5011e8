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
from functools import lru_cache

import numpy as np

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


# --------------------------------------------------------------------------- beyond Erlang C
# Each formula below holds under the assumptions `core.reference` checks for a scenario;
# the worked values they are tested against are in tests/core/test_theory_more.py.


@dataclass(frozen=True, slots=True)
class MMcKPrediction:
    """Steady-state M/M/c/K figures: at most `capacity` tasks in the system (waiting plus
    in service); an arrival that finds it full is rejected. Always stable."""

    arrival_rate: float  # λ offered
    service_rate: float  # μ per worker
    servers: int  # c
    capacity: int  # K >= c
    p_block: float  # the share of arrivals rejected, p_K
    admitted_rate: float  # λ(1 - p_K): the rate Little's law needs
    utilization: float  # admitted λ / (cμ)
    l: float  # mean in system  # noqa: E741
    lq: float  # mean waiting
    w: float  # mean time in system of an admitted task
    wq: float  # mean wait of an admitted task
    p_wait: float = math.nan  # the share of admitted tasks that wait, P(c <= n < K) / (1 - p_K)


def mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int
         ) -> MMcKPrediction:
    """M/M/c/K by its birth-death probabilities p_n ∝ aⁿ/n! (n <= c), aⁿ/(c!·c^(n-c)) above,
    summed in log space so that neither aⁿ nor n! overflows at large K."""
    number("arrival_rate", arrival_rate, above=0.0)
    number("service_rate", service_rate, above=0.0)
    c = integer("servers", servers, minimum=1)
    k = integer("capacity", capacity, minimum=c)
    log_a = math.log(arrival_rate / service_rate)
    logs = [n * log_a - math.lgamma(n + 1) if n <= c
            else n * log_a - math.lgamma(c + 1) - (n - c) * math.log(c)
            for n in range(k + 1)]
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    total = math.fsum(weights)
    p = [x / total for x in weights]
    p_block = p[k]
    admitted = arrival_rate * (1.0 - p_block)
    l_ = math.fsum(n * pn for n, pn in enumerate(p))
    lq = math.fsum((n - c) * p[n] for n in range(c + 1, k + 1))
    p_wait = math.fsum(p[c:k]) / (1.0 - p_block)  # arrivals see time averages (PASTA)
    return MMcKPrediction(arrival_rate, service_rate, c, k, p_block, admitted,
                          admitted / (c * service_rate), l_, lq, l_ / admitted, lq / admitted,
                          p_wait)


def pollaczek_khinchine(arrival_rate: float, mean_service: float, scv_service: float) -> float:
    """M/G/1 mean wait in queue, Wq = ρ/(1-ρ) · (1 + cs²)/2 · E[S]; inf when ρ >= 1.

    Exact for FCFS and for any non-preemptive order blind to job sizes; only the service
    time's first two moments matter (cs² = variance / mean²).
    """
    number("arrival_rate", arrival_rate, minimum=0.0)
    number("mean_service", mean_service, above=0.0)
    number("scv_service", scv_service, minimum=0.0)
    return kingman(arrival_rate, mean_service, 1.0, scv_service)


def kingman(arrival_rate: float, mean_service: float, scv_arrival: float,
            scv_service: float) -> float:
    """G/G/1 mean wait approximation, Wq ≈ ρ/(1-ρ) · (ca² + cs²)/2 · E[S]; inf when ρ >= 1.

    Exact for Poisson arrivals (it is then Pollaczek-Khinchine) and in heavy traffic; an
    approximation otherwise (7.7 % high for D/M/1 at ρ = 0.9).
    """
    number("scv_arrival", scv_arrival, minimum=0.0)
    number("scv_service", scv_service, minimum=0.0)
    rho = arrival_rate * mean_service
    if rho >= 1.0:
        return INF
    return rho / (1.0 - rho) * (scv_arrival + scv_service) / 2.0 * mean_service


def allen_cunneen(arrival_rate: float, service_rate: float, servers: int,
                  scv_arrival: float, scv_service: float) -> float:
    """G/G/c mean wait, an approximation: Erlang C's Wq scaled by (ca² + cs²)/2.

    Exact for M/M/c; a heuristic elsewhere, weakest at low load and extreme variability.
    """
    number("scv_arrival", scv_arrival, minimum=0.0)
    number("scv_service", scv_service, minimum=0.0)
    return erlang_c(arrival_rate, service_rate, servers).wq * (scv_arrival + scv_service) / 2.0


def priority_waits(arrival_rates: tuple[float, ...], service_rate: float,
                   servers: int) -> tuple[float, ...]:
    """Cobham's non-preemptive priority: the mean wait of each class, highest class first.

    Wq,k = [C(c, a) / (cμ)] / ((1 - σ(k-1))(1 - σ(k))), σ(k) the load of classes 1..k per
    server; exact for M/M/c with one service rate (for c = 1, the M/G/1 form with
    W0 = Σ λᵢE[Sᵢ²]/2). A class whose σ reaches 1 waits forever (inf) while the higher
    ones may still be served: starvation. The λ-weighted mean equals FCFS's Wq.
    """
    number("service_rate", service_rate, above=0.0)
    c = integer("servers", servers, minimum=1)
    for i, rate in enumerate(arrival_rates):
        number(f"arrival_rates[{i}]", rate, minimum=0.0)
    capacity = c * service_rate
    total = math.fsum(arrival_rates)
    if total >= capacity:  # Erlang C has no steady state; the classes still split in two
        p_wait_over = 1.0 / capacity
    else:
        p_wait_over = erlang_c(total, service_rate, c).p_wait / capacity
    out: list[float] = []
    before = 0.0
    for rate in arrival_rates:
        upto = before + rate / capacity
        out.append(INF if upto >= 1.0 else p_wait_over / ((1.0 - before) * (1.0 - upto)))
        before = upto
    return tuple(out)


def halfin_whitt_p_wait(beta: float) -> float:
    """P(wait) in the quality-and-efficiency-driven regime, [1 + βΦ(β)/φ(β)]⁻¹, for
    c = R + β√R servers as the offered load R grows: square-root staffing's promise."""
    number("beta", beta, above=0.0)
    phi = math.exp(-beta * beta / 2.0) / math.sqrt(2.0 * math.pi)
    big_phi = 0.5 * (1.0 + math.erf(beta / math.sqrt(2.0)))
    return 1.0 / (1.0 + beta * big_phi / phi)


def square_root_staffing(offered_load: float, beta: float) -> int:
    """Servers for offered load R = λ/μ by the square-root rule, c = ⌈R + β√R⌉."""
    number("offered_load", offered_load, above=0.0)
    number("beta", beta, above=0.0)
    return math.ceil(offered_load + beta * math.sqrt(offered_load) - 1e-12)


def beta_for(p_wait: float) -> float:
    """The β at which Halfin-Whitt gives `p_wait` (bisection: P(wait) falls as β grows)."""
    number("p_wait", p_wait, above=0.0)
    if p_wait >= 1.0:
        raise ValueError(f"p_wait: must be < 1 (got {p_wait})")
    lo, hi = 1e-9, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if halfin_whitt_p_wait(mid) > p_wait:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def servers_for(arrival_rate: float, service_rate: float, p_wait: float) -> int:
    """The fewest servers whose exact Erlang C P(wait) is at most `p_wait`; the search starts
    from the square-root rule's answer, which is close."""
    number("p_wait", p_wait, above=0.0, maximum=1.0)
    a = arrival_rate / service_rate
    c = max(1, math.floor(a) + 1, square_root_staffing(a, beta_for(min(p_wait, 0.999))) - 3)
    while erlang_c(arrival_rate, service_rate, c).p_wait > p_wait:
        c += 1
    while c > 1 and c - 1 > a and erlang_c(arrival_rate, service_rate, c - 1).p_wait <= p_wait:
        c -= 1
    return c


def relaxation_time(arrival_rate: float, service_rate: float, servers: int = 1) -> float:
    """The time scale on which a queue forgets its start, 1/(cμ(1 - √ρ)²): exact for M/M/1
    (its spectral gap), a heuristic for c > 1. A warm-up of about five of these lets the
    empty start fade; inf when ρ >= 1 (the queue never settles)."""
    number("arrival_rate", arrival_rate, minimum=0.0)
    number("service_rate", service_rate, above=0.0)
    c = integer("servers", servers, minimum=1)
    rho = arrival_rate / (c * service_rate)
    if rho >= 1.0:
        return INF
    return 1.0 / (c * service_rate * (1.0 - math.sqrt(rho)) ** 2)


RELAXATION_STATES = 400  # the M/M/c/K chain's size up to which its gap is computed exactly


@lru_cache(maxsize=256)
def relaxation_time_mmck(arrival_rate: float, service_rate: float, servers: int,
                         capacity: int) -> float:
    """The relaxation time of M/M/c/K, 1 / the spectral gap of its birth-death chain: exact,
    and finite at any load (a bounded queue always settles; for M/M/1/K the gap is
    λ + μ - 2√(λμ)·cos(π/(K+1))). Computed from the symmetrized generator's eigenvalues
    up to RELAXATION_STATES states; a larger bound behaves like the unbounded queue below
    capacity (`relaxation_time`), and above it the gap is at least that of the states near
    the bound, so the unbounded formula at the load mirrored below 1 stands in."""
    number("arrival_rate", arrival_rate, above=0.0)
    number("service_rate", service_rate, above=0.0)
    c = integer("servers", servers, minimum=1)
    k = integer("capacity", capacity, minimum=c)
    if k + 1 > RELAXATION_STATES:
        rho = arrival_rate / (c * service_rate)
        if rho < 1.0:
            return relaxation_time(arrival_rate, service_rate, c)
        return relaxation_time(c * service_rate / rho, service_rate, c) if rho > 1.0 else INF
    births = np.full(k + 1, arrival_rate)
    births[k] = 0.0
    deaths = np.minimum(np.arange(k + 1), c) * service_rate
    m = np.diag(births + deaths)
    off = -np.sqrt(births[:-1] * deaths[1:])
    m += np.diag(off, 1) + np.diag(off, -1)
    gap = float(np.linalg.eigvalsh(m)[1])
    return 1.0 / gap if gap > 0 else INF
