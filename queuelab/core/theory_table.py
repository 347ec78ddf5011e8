"""What each formula beyond Erlang C says about a scenario, or why it says nothing.

The Theory tab shows these lines under the Erlang C table: a formula's figures where its
assumptions hold (`core.reference.why_not_*`), otherwise the assumption the scenario breaks,
so a learner sees which model fits the run and which does not, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from queuelab.core.reference import (
    ARRIVAL_SCV,
    mmck_reference,
    servers_of,
    service_moments,
    why_not_erlang_b,
    why_not_ggc,
    why_not_kingman,
    why_not_mg1,
    why_not_mmc,
    why_not_mmck,
    why_not_priority,
    why_not_relaxation,
)
from queuelab.core.scenario import Scenario
from queuelab.core.theory import (
    allen_cunneen,
    beta_for,
    erlang_b,
    kingman,
    pollaczek_khinchine,
    priority_waits,
    relaxation_time,
    servers_for,
)

P_WAIT_TARGET = 0.2  # the share of tasks allowed to queue that staffing is sized for


@dataclass(frozen=True, slots=True)
class TheoryLine:
    """One formula's verdict: `figures` (what, value, unit) when `why_not` is None."""

    name: str
    why_not: str | None
    figures: tuple[tuple[str, float, str], ...] = ()
    approximate: bool = False  # a heuristic even where its assumptions hold


def theory_lines(s: Scenario) -> list[TheoryLine]:
    """Every formula beyond Erlang C, in the order a course meets them."""
    lam = s.arrivals.rate
    mean, scv = service_moments(s)
    mu = 1.0 / mean
    c = servers_of(s)
    ca2 = ARRIVAL_SCV.get(s.arrivals.process, 1.0)
    lines: list[TheoryLine] = []

    def line(name: str, why: str | None, figures: tuple[tuple[str, float, str], ...],
             approximate: bool = False) -> None:
        lines.append(TheoryLine(name, why, figures if why is None else (), approximate))

    why = why_not_mg1(s)
    line("Pollaczek–Khinchine (M/G/1)", why, () if why else (
        ("Wq", pollaczek_khinchine(lam, mean, scv), "s"), ("service SCV cs²", scv, "")))
    why = why_not_kingman(s)
    line("Kingman (G/G/1)", why, () if why else (
        ("Wq ≈", kingman(lam, mean, ca2, scv), "s"),), approximate=True)
    why = why_not_ggc(s)
    line("Allen–Cunneen (G/G/c)", why, () if why or c is None else (
        ("Wq ≈", allen_cunneen(lam, mu, c, ca2, scv), "s"),), approximate=True)
    why = why_not_priority(s)
    if why is None and c is not None:
        weights = s.priorities.weights
        total = sum(weights)
        order = list(range(len(weights)))[::-1]  # the last level is the highest
        waits = priority_waits(tuple(lam * weights[i] / total for i in order), mu, c)
        line("Cobham (non-preemptive priority, M/M/c)", None, tuple(
            (f"Wq level {i}", w, "s") for i, w in zip(order, waits, strict=True)
            if weights[i] > 0))
    else:
        line("Cobham (non-preemptive priority, M/M/c)", why, ())
    why = why_not_mmck(s)
    bounded = mmck_reference(s)
    line("M/M/c/K (load shedding)", why, () if bounded is None else (
        ("P(rejected)", bounded.p_block, ""), ("admitted λ", bounded.admitted_rate, "/s"),
        ("Wq", bounded.wq, "s"), ("L", bounded.l, "")))
    why = why_not_erlang_b(s)
    line("Erlang B (no room to wait, M/G/c/c: what this pool would turn away)", why, () if why
         or c is None else (("P(blocked)", erlang_b(lam / mu, c), ""),
                             ("turned away", lam * erlang_b(lam / mu, c), "/s")))
    why = why_not_mmc(s)
    line(f"Square-root staffing (P(wait) ≤ {P_WAIT_TARGET:.0%})", why, () if why else (
        ("workers needed", float(servers_for(lam, mu, P_WAIT_TARGET)), ""),
        ("β (Halfin–Whitt)", beta_for(P_WAIT_TARGET), "")))
    why = why_not_relaxation(s)
    if why is None and c is not None:
        tau = relaxation_time(lam, mu, c)
        line("Relaxation time (warm-up)", None, (
            ("τ", tau, "s"), ("warm-up ≈ 5τ", 5 * tau, "s"),
            ("this run's warm-up", s.run.warmup, "s")), approximate=c > 1)
    else:
        line("Relaxation time (warm-up)", why, ())
    return lines
