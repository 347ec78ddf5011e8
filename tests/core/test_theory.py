"""Erlang C and Little's law against textbook values and an independent lgamma computation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.theory import (
    erlang_b,
    erlang_c,
    littles_law,
    littles_law_residual,
    wait_quantile,
)


def erlang_c_lgamma(lam: float, mu: float, c: int) -> float:
    """Textbook Erlang C, P0-style sum, in log space so a^c/c! cannot overflow."""
    a = lam / mu
    rho = a / c
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_last = c * math.log(a) - math.lgamma(c + 1) - math.log(1 - rho)
    top = max([*log_terms, log_last])
    total = sum(math.exp(x - top) for x in log_terms) + math.exp(log_last - top)
    return math.exp(log_last - top) / total


def test_mm1_textbook() -> None:
    p = erlang_c(0.9, 1.0, 1)
    assert p.stable
    assert p.rho == pytest.approx(0.9)
    assert p.p_wait == pytest.approx(0.9)  # M/M/1: P(wait) = ρ
    assert p.lq == pytest.approx(8.1)
    assert p.wq == pytest.approx(9.0)
    assert p.w == pytest.approx(10.0)
    assert p.l == pytest.approx(9.0)


def test_mm2_textbook() -> None:
    # a = 1.6, ρ = 0.8, P0 = 1/9: C = 32/45, Lq = 128/45, Wq = Lq/λ = 16/9
    p = erlang_c(1.6, 1.0, 2)
    assert p.offered_load == pytest.approx(1.6)
    assert p.p_wait == pytest.approx(32 / 45)
    assert p.p_wait == pytest.approx(0.7111, abs=1e-4)
    assert p.lq == pytest.approx(128 / 45)
    assert p.wq == pytest.approx(16 / 9)
    assert p.w == pytest.approx(16 / 9 + 1)
    assert p.l == pytest.approx(128 / 45 + 1.6)


def test_mm3_textbook() -> None:
    # a = 2, ρ = 2/3, P0 = 1/9: C = 4/9, Lq = 8/9, Wq = 4/9
    p = erlang_c(2.0, 1.0, 3)
    assert p.p_wait == pytest.approx(4 / 9)
    assert p.lq == pytest.approx(8 / 9)
    assert p.wq == pytest.approx(4 / 9)


def test_erlang_b_textbook() -> None:
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_b(2.0, 2) == pytest.approx(0.4)
    assert erlang_b(5.0, 0) == 1.0


def test_erlang_c_large_c_matches_lgamma() -> None:
    c = 16
    lam, mu = 0.95 * c * 2.0, 2.0
    assert erlang_c(lam, mu, c).p_wait == pytest.approx(erlang_c_lgamma(lam, mu, c), rel=1e-10)
    for c, rho in ((100, 0.9), (1000, 0.99), (1000, 0.5)):
        p = erlang_c(rho * c, 1.0, c)
        assert 0.0 <= p.p_wait <= 1.0 and math.isfinite(p.wq)
        assert p.p_wait == pytest.approx(erlang_c_lgamma(rho * c, 1.0, c), rel=1e-8, abs=1e-300)


def test_unstable_and_idle() -> None:
    for lam in (1.0, 2.5):
        p = erlang_c(lam, 1.0, 1)
        assert not p.stable and p.p_wait == 1.0
        assert math.isinf(p.lq) and math.isinf(p.wq) and math.isinf(p.w) and math.isinf(p.l)
        assert math.isinf(wait_quantile(p, 0.5))
    p = erlang_c(0.0, 1.0, 4)
    assert p.stable and (p.p_wait, p.lq, p.wq, p.l) == (0.0, 0.0, 0.0, 0.0)
    assert p.w == 1.0
    assert wait_quantile(p, 0.99) == 0.0


@pytest.mark.parametrize(
    ("lam", "mu", "c"), [(-1.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0), (1.0, 1.0, 1.5)]
)
def test_erlang_c_rejects_nonsense(lam: float, mu: float, c: int) -> None:
    with pytest.raises(ValueError):
        erlang_c(lam, mu, c)


def test_wait_quantile_mm1() -> None:
    p = erlang_c(0.9, 1.0, 1)  # C = 0.9, decay rate cμ - λ = 0.1
    assert wait_quantile(p, 0.05) == 0.0  # 10 % never wait
    assert wait_quantile(p, 0.1) == 0.0
    assert wait_quantile(p, 0.5) == pytest.approx(math.log(0.9 / 0.5) / 0.1)
    assert wait_quantile(p, 0.99) == pytest.approx(math.log(90.0) / 0.1)
    assert math.isinf(wait_quantile(p, 1.0))
    with pytest.raises(ValueError):
        wait_quantile(p, -0.1)


@given(
    st.floats(0.01, 100.0),
    st.integers(1, 300),
    st.floats(0.0, 0.999),
)
def test_mmc_internal_consistency(mu: float, c: int, rho: float) -> None:
    lam = rho * c * mu
    p = erlang_c(lam, mu, c)
    assert p.stable
    assert 0.0 <= p.p_wait <= 1.0
    assert p.p_wait >= erlang_b(p.offered_load, c) - 1e-15  # waiting is likelier than blocking
    assert littles_law_residual(p.l, lam, p.w) < 1e-9
    assert littles_law_residual(p.lq, lam, p.wq) < 1e-9
    if c > 1:  # one more worker never makes waiting likelier
        assert erlang_c(lam, mu, c + 1).p_wait <= p.p_wait + 1e-15
    # the quantile inverts the tail P(Wq > t) = C·exp(-(cμ-λ)t)
    q = 0.999
    t = wait_quantile(p, q)
    if t > 0:
        assert p.p_wait * math.exp(-(c * mu - lam) * t) == pytest.approx(1 - q, rel=1e-9)


def test_littles_law() -> None:
    assert littles_law(2.0, 3.0) == 6.0
    assert littles_law_residual(6.0, 2.0, 3.0) == 0.0
    assert littles_law_residual(0.0, 0.0, 5.0) == 0.0
    assert littles_law_residual(5.7, 2.0, 3.0) == pytest.approx(0.05)
    assert littles_law_residual(6.0, 2.0, 2.85) == pytest.approx(0.05)
    assert littles_law_residual(1.0, 0.0, 0.0) == 1.0
