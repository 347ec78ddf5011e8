"""The formulas beyond Erlang C against worked values (computed independently), and the
identities that tie them together."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.reference import (
    why_not_ggc,
    why_not_kingman,
    why_not_mg1,
    why_not_mmc,
    why_not_priority,
    why_not_relaxation,
)
from queuelab.core.scenario import Scenario
from queuelab.core.theory import (
    allen_cunneen,
    beta_for,
    erlang_b,
    erlang_c,
    halfin_whitt_p_wait,
    kingman,
    mmck,
    pollaczek_khinchine,
    priority_waits,
    relaxation_time,
    relaxation_time_mmck,
    servers_for,
    square_root_staffing,
)
from queuelab.core.theory_table import theory_lines

approx = pytest.approx


def test_erlang_b_worked_values() -> None:
    assert erlang_b(8.0, 10) == approx(0.121661, abs=1e-6)
    assert erlang_b(1.5, 2) == approx(0.310345, abs=1e-6)


def test_mmck_worked_values() -> None:
    p = mmck(1.5, 1.0, 2, 5)
    assert (p.p_block, p.admitted_rate, p.l, p.w, p.wq) == (
        approx(0.085114, abs=1e-6), approx(1.372329, abs=1e-6), approx(2.005954, abs=1e-6),
        approx(1.461715, abs=1e-6), approx(0.461715, abs=1e-6))
    assert mmck(0.9, 1.0, 1, 10).p_block == approx(0.050814, abs=1e-6)
    over = mmck(1.2, 1.0, 1, 20)  # overloaded, yet bounded: always a steady state
    assert over.p_block == approx(0.170370, abs=1e-6)
    assert over.admitted_rate == approx(0.995556, abs=1e-6)
    assert mmck(8.0, 1.0, 10, 10).p_block == approx(erlang_b(8.0, 10), rel=1e-12)
    huge = mmck(50.0, 1.0, 10, 5000)  # aⁿ and n! far beyond a float: summed in logs
    assert huge.p_block == approx(0.8, rel=1e-9) and math.isfinite(huge.w)


@given(st.floats(0.05, 0.95), st.integers(1, 20))
def test_mmck_tends_to_erlang_c_as_the_bound_grows(rho: float, c: int) -> None:
    lam = rho * c
    big = mmck(lam, 1.0, c, c + 3000)
    assert big.wq == approx(erlang_c(lam, 1.0, c).wq, rel=1e-6, abs=1e-9)
    assert big.l == approx(big.admitted_rate * big.w, rel=1e-9)  # Little's law


def test_pollaczek_khinchine_worked_values() -> None:
    assert [pollaczek_khinchine(0.8, 1.0, cs2) for cs2 in (0.0, 1.0, 4.0)] == [
        approx(2.0), approx(4.0), approx(10.0)]
    assert pollaczek_khinchine(1.0, 1.0, 1.0) == math.inf


def test_kingman_worked_values() -> None:
    assert kingman(0.9, 1.0, 0.0, 1.0) == approx(4.5)  # D/M/1, exact 4.178659: 7.7 % high
    assert kingman(0.9, 1.0, 1.0, 0.25) == approx(pollaczek_khinchine(0.9, 1.0, 0.25))


def test_allen_cunneen_worked_values() -> None:
    assert allen_cunneen(8.0, 1.0, 10, 1.0, 0.5) == approx(0.153443, abs=1e-6)
    assert allen_cunneen(8.0, 1.0, 10, 1.0, 1.0) == approx(erlang_c(8.0, 1.0, 10).wq)


def test_cobham_priority_worked_values() -> None:
    assert priority_waits((0.3, 0.5), 1.0, 1) == (approx(1.142857, abs=1e-6),
                                                   approx(5.714286, abs=1e-6))
    assert priority_waits((0.6, 0.35), 1.0, 1) == (approx(2.375), approx(47.5))
    assert priority_waits((0.65, 0.35), 1.0, 1)[1] == math.inf  # starved
    tenth = priority_waits((3.0, 5.0), 1.0, 10)
    assert tenth == (approx(0.058454, abs=1e-6), approx(0.292272, abs=1e-6))
    # conservation: the weighted mean is FCFS's
    assert (3 * tenth[0] + 5 * tenth[1]) / 8 == approx(erlang_c(8.0, 1.0, 10).wq)


def test_square_root_staffing_worked_values() -> None:
    assert [round(halfin_whitt_p_wait(b), 4) for b in (0.5, 1.0, 1.5, 2.0)] == [
        0.5045, 0.2234, 0.0847, 0.0269]
    assert halfin_whitt_p_wait(1.0) == approx(0.223361, abs=1e-6)
    assert square_root_staffing(100.0, 1.0) == 110
    assert erlang_c(100.0, 1.0, 110).p_wait == approx(0.237008, abs=1e-6)
    assert beta_for(0.2) == approx(1.0615, abs=1e-4)
    assert servers_for(100.0, 1.0, 0.2) == 111
    assert erlang_c(100.0, 1.0, 111).p_wait == approx(0.199787, abs=1e-6)
    assert square_root_staffing(4.0, 1.0) == 6  # where the rule is poor: exact 0.2848
    assert erlang_c(4.0, 1.0, 6).p_wait == approx(0.2848, abs=1e-4)


@given(st.floats(0.1, 200.0), st.floats(0.01, 0.9))
def test_servers_for_is_the_fewest_that_meet_the_target(a: float, target: float) -> None:
    c = servers_for(a, 1.0, target)
    assert erlang_c(a, 1.0, c).p_wait <= target
    assert c == 1 or c - 1 <= a or erlang_c(a, 1.0, c - 1).p_wait > target


def test_relaxation_time_worked_values() -> None:
    assert [round(relaxation_time(r, 1.0), 2) for r in (0.5, 0.8, 0.9, 0.95, 0.99)] == [
        11.66, 89.72, 379.74, 1559.74, 39799.75]
    assert relaxation_time(9.0, 1.0, 10) == approx(37.97, abs=0.01)
    assert relaxation_time(1.0, 1.0) == math.inf


def _s(**sections: dict[str, object]) -> Scenario:
    s = Scenario()
    for name, knobs in sections.items():
        s = replace(s, **{name: replace(getattr(s, name), **knobs)})
    return s


def test_each_formula_says_which_assumption_fails() -> None:
    mg1 = _s(service={"distribution": "constant"}, pool={"strategy": "single"},
             arrivals={"rate": 0.8})
    assert why_not_mg1(mg1) is None and why_not_kingman(mg1) is None
    assert why_not_mmc(mg1) == "service times are constant, not exponential"
    assert why_not_mg1(_s()) == "more than one server (M/G/1 has one)"
    assert why_not_kingman(replace(mg1, arrivals=replace(mg1.arrivals, process="sine"))) == (
        "arrivals are sine: not a renewal process at one rate (poisson or constant)")
    assert why_not_ggc(_s(service={"distribution": "pareto", "shape": 1.5})) == (
        "the Pareto service time has infinite variance (shape <= 2)")
    assert why_not_priority(_s()) == (
        "the queue is FIFO (discipline = priority gives per-class waits)")
    prio = _s(queue={"discipline": "priority"}, priorities={"weights": (0.35, 0.6)},
              pool={"strategy": "single"}, arrivals={"rate": 0.95})
    assert why_not_priority(prio) is None
    assert why_not_relaxation(_s(arrivals={"rate": 5.0})) == (
        "the load is at or above capacity: the queue never settles")


def test_the_theory_lines_carry_the_worked_values() -> None:
    mg1 = _s(service={"distribution": "constant"}, pool={"strategy": "single"},
             arrivals={"rate": 0.8})
    lines = {line.name.split(" (")[0]: line for line in theory_lines(mg1)}
    assert lines["Pollaczek–Khinchine"].figures[0][1] == approx(2.0)
    assert lines["Kingman"].approximate and lines["Kingman"].figures[0][1] == approx(2.0)
    assert lines["Cobham"].why_not is not None and lines["Cobham"].figures == ()
    prio = _s(queue={"discipline": "priority"}, priorities={"weights": (0.35, 0.6)},
              pool={"strategy": "single"}, arrivals={"rate": 0.95})
    cobham = {ln.name.split(" (")[0]: ln for ln in theory_lines(prio)}["Cobham"]
    # the last level is the highest: level 1 carries λ = 0.6, level 0 λ = 0.35
    assert cobham.figures == (("Wq level 1", approx(2.375), "s"),
                              ("Wq level 0", approx(47.5), "s"))
    staffing = {ln.name.split(" (")[0]: ln for ln in theory_lines(_s())}
    assert staffing["Square-root staffing"].figures[0][1] == servers_for(3.2, 1.0, 0.2)
    assert staffing["Relaxation time"].figures[0][1] == approx(relaxation_time(3.2, 1.0, 4))


def test_erlang_b_is_the_loss_system_mmck_and_a_line_of_the_tab() -> None:
    """Erlang B is M/M/c/K with K = c (no room to wait); the scenario format cannot state a
    pure loss system (max_length 0 = unbounded), so the tab gives it for the pool as it is,
    bounded or not, for any service law (it is insensitive to it), and says why not else."""
    for c, a in ((1, 0.5), (4, 3.2), (10, 8.0)):
        assert mmck(a, 1.0, c, c).p_block == approx(erlang_b(a, c))
    assert erlang_b(3.2, 4) == approx(0.228145, abs=1e-6)  # a⁴/4! / Σ aᵏ/k!, by hand
    lines = {ln.name.split(" (")[0]: ln for ln in theory_lines(_s())}
    loss = lines["Erlang B"]
    assert loss.figures == (("P(blocked)", approx(erlang_b(3.2, 4)), ""),
                            ("turned away", approx(3.2 * erlang_b(3.2, 4)), "/s"))
    lognormal = _s(service={"distribution": "lognormal"}, queue={"max_length": 3})
    assert {ln.name.split(" (")[0]: ln for ln in theory_lines(lognormal)}[
        "Erlang B"].why_not is None
    bursty = {ln.name.split(" (")[0]: ln
              for ln in theory_lines(_s(arrivals={"process": "bursty"}))}
    assert bursty["Erlang B"].why_not == "arrivals are bursty, not Poisson at a constant rate"


def test_the_relaxation_time_of_a_bounded_queue() -> None:
    """M/M/c/K's chain forgets its start at the rate of its spectral gap: for M/M/1/K that
    gap is λ + μ - 2√(λμ)·cos(π/(K+1)); it tends to the unbounded queue's as K grows below
    capacity, and stays finite above it, where the unbounded queue never settles."""
    for lam, k in ((0.5, 5), (0.5, 50), (2.0, 8)):
        gap = lam + 1.0 - 2 * math.sqrt(lam) * math.cos(math.pi / (k + 1))
        assert relaxation_time_mmck(lam, 1.0, 1, k) == approx(1 / gap)
    assert relaxation_time_mmck(3.2, 1.0, 4, 399) == approx(relaxation_time(3.2, 1.0, 4),
                                                            rel=0.01)
    assert math.isfinite(relaxation_time_mmck(4.4, 1.0, 4, 10))
    assert relaxation_time(4.4, 1.0, 4) == math.inf
