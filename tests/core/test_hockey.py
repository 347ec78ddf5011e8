"""The hockey stick's theory curves against worked values: pooled M/M/c against separate M/M/1."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.hockey import (
    TOP_RHO,
    for_scenario,
    hockey_stick,
    pooled_wait,
    rho_grid,
    separate_wait,
    sweep_rates,
)
from queuelab.core.scenario import Scenario
from queuelab.core.theory import mmck


def test_two_queues_against_one_shared() -> None:
    # two M/M/1 queues at λ = 0.75, μ = 1 wait 3.0; one M/M/2 at λ = 1.5 waits 9/7
    assert separate_wait(0.75, 1.0) == pytest.approx(3.0)
    assert pooled_wait(0.75, 2, 1.0) == pytest.approx(9 / 7)
    assert pooled_wait(0.75, 2, 1.0) == pytest.approx(1.2857, abs=1e-4)


def test_ten_queues_against_one_shared() -> None:
    # ten separate queues at ρ = 0.8 wait 4.0; one shared queue of ten waits 0.2046
    assert separate_wait(0.8, 1.0) == pytest.approx(4.0)
    assert pooled_wait(0.8, 10, 1.0) == pytest.approx(0.2046, abs=1e-4)


def test_mm2_textbook_and_units() -> None:
    # M/M/2 at ρ = 0.8, μ = 1: Wq = 16/9 s; at μ = 2 (0.5 s service) every wait halves
    assert pooled_wait(0.8, 2, 1.0) == pytest.approx(16 / 9)
    assert pooled_wait(0.8, 2, 2.0) == pytest.approx(8 / 9)
    assert separate_wait(0.9, 1.0) == pytest.approx(9.0)


def test_grid_and_curves() -> None:
    grid = rho_grid(50)
    assert grid[0] == 0.0 and grid[-1] == pytest.approx(TOP_RHO) and len(grid) == 50
    h = hockey_stick(4, 0.5, current_rho=0.7)
    assert h.pooled[0] == 0.0 and h.separate[0] == 0.0
    assert all(math.isfinite(w) for w in h.pooled + h.separate)
    assert list(h.pooled) == sorted(h.pooled) and list(h.separate) == sorted(h.separate)
    assert h.cap == pytest.approx(18.0)  # 9 mean services of 2 s
    assert h.current_wait == pytest.approx(pooled_wait(0.7, 4, 0.5))
    with pytest.raises(ValueError, match="points"):
        rho_grid(1)
    with pytest.raises(ValueError, match="top"):
        rho_grid(10, 1.0)


@given(st.integers(1, 200), st.floats(0.01, 0.98), st.floats(0.01, 100.0))
def test_pooling_never_waits_longer(c: int, rho: float, mu: float) -> None:
    pooled, separate = pooled_wait(rho, c, mu), separate_wait(rho, mu)
    assert pooled <= separate * (1 + 1e-9)
    if c == 1:
        assert pooled == pytest.approx(separate)


def test_for_scenario() -> None:
    s = Scenario()
    s = replace(s, arrivals=replace(s.arrivals, process="poisson", rate=3.0),
                service=replace(s.service, distribution="exponential", mean=0.5),
                pool=replace(s.pool, strategy="fixed", workers=2))
    h = for_scenario(s)
    assert not isinstance(h, str)
    assert (h.servers, h.service_rate, h.current_rho, h.approximation) == (2, 2.0, 0.75, None)
    lognormal = for_scenario(replace(s, service=replace(s.service, distribution="lognormal")))
    assert not isinstance(lognormal, str)
    assert lognormal.approximation is not None and "lognormal" in lognormal.approximation
    dynamic = for_scenario(replace(s, pool=replace(s.pool, strategy="dynamic")))
    assert isinstance(dynamic, str) and "dynamic pool" in dynamic
    assert sweep_rates(2, 2.0, (0.5, 0.9)) == pytest.approx((2.0, 3.6))


def test_a_bounded_queue_gets_mmck_curves() -> None:
    """max_length 3 on two workers: the curves are M/M/2/5's and M/M/1/4's waits of the
    admitted tasks (finite even past ρ = 1), the operating point too; 0 stays unbounded."""
    s = Scenario()
    s = replace(s, arrivals=replace(s.arrivals, process="poisson", rate=1.5),
                service=replace(s.service, distribution="exponential", mean=1.0),
                pool=replace(s.pool, strategy="fixed", workers=2),
                queue=replace(s.queue, max_length=3))
    h = for_scenario(s)
    assert not isinstance(h, str)
    assert (h.max_length, h.approximation, h.pooled_name, h.separate_name) == (
        3, None, "M/M/2/5", "M/M/1/4")
    assert h.current_wait == pytest.approx(mmck(1.5, 1.0, 2, 5).wq)
    assert h.pooled[-1] == pytest.approx(mmck(TOP_RHO * 2, 1.0, 2, 5).wq)
    assert h.separate[-1] == pytest.approx(mmck(TOP_RHO, 1.0, 1, 4).wq)
    assert all(b <= u for b, u in zip(h.pooled[1:], hockey_stick(2, 1.0).pooled[1:],
                                      strict=True))  # shedding only shortens the wait
    assert math.isfinite(pooled_wait(1.5, 2, 1.0, max_length=3))  # stable at any load
    unbounded = for_scenario(replace(s, queue=replace(s.queue, max_length=0)))
    assert not isinstance(unbounded, str) and unbounded.pooled_name == "M/M/2"
