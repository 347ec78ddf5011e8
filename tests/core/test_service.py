"""Service-time distributions: exact means, declared scv, tails, determinism and refusals."""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.service import (
    SERVICE_DISTRIBUTIONS,
    ConstantService,
    EmpiricalService,
    ExponentialService,
    LognormalService,
    ParetoService,
    ServiceTime,
    UniformService,
    make_service,
)

N = 200_000


def moments(dist: ServiceTime, n: int = N) -> tuple[float, float, list[float]]:
    xs = [dist.draw() for _ in range(n)]
    mean = math.fsum(xs) / n
    var = math.fsum((x - mean) ** 2 for x in xs) / n
    return mean, var / (mean * mean), xs


def test_exponential_mean_within_one_percent() -> None:
    dist = ExponentialService(0.25, random.Random(1))
    mean, scv, xs = moments(dist)
    assert mean == pytest.approx(0.25, rel=0.01)
    assert scv == pytest.approx(1.0, rel=0.04)
    assert min(xs) >= 0.0
    # memoryless: P(X > 2m) = e^-2
    assert sum(x > 0.5 for x in xs) / N == pytest.approx(math.exp(-2.0), abs=0.003)


@pytest.mark.parametrize(
    "dist",
    [
        ConstantService(2.0),
        UniformService(1.0, 3.0, random.Random(2)),
        LognormalService(2.0, 0.5, random.Random(3)),
        LognormalService(2.0, 1.0, random.Random(4)),
        ParetoService(2.0, 3.5, random.Random(5)),
        EmpiricalService([0.5, 1.0, 1.0, 5.5], random.Random(6)),
    ],
    ids=lambda d: type(d).__name__,
)
def test_sample_mean_and_scv_match_the_declared_ones(dist: ServiceTime) -> None:
    mean, scv, _ = moments(dist)
    assert dist.mean == pytest.approx(2.0)
    # 4 standard errors of the sample mean
    assert mean == pytest.approx(dist.mean, abs=4.0 * dist.mean * math.sqrt(dist.scv / N) + 1e-12)
    assert scv == pytest.approx(dist.scv, rel=0.06, abs=1e-12)


def test_uniform_stays_in_its_bounds() -> None:
    dist = UniformService(0.5, 1.5, random.Random(7))
    xs = [dist.draw() for _ in range(50_000)]
    assert 0.5 <= min(xs) < 0.51
    assert 1.49 < max(xs) <= 1.5
    assert dist.scv == pytest.approx((1.0 / 12.0) / 1.0)


def test_lognormal_median_is_exp_mu() -> None:
    dist = LognormalService(1.0, 1.2, random.Random(8))
    median = math.exp(-0.5 * 1.2**2)
    below = sum(dist.draw() < median for _ in range(N))
    assert abs(below - N / 2) <= 4.0 * math.sqrt(N / 4)


def test_pareto_heavy_tail_follows_its_survival_function() -> None:
    """Shape 1.5: infinite variance, so check the tail itself, not the sample variance."""
    dist = ParetoService(3.0, 1.5, random.Random(9))
    assert dist.scale == pytest.approx(1.0)
    assert dist.scv == math.inf
    xs = [dist.draw() for _ in range(N)]
    assert min(xs) >= dist.scale
    for x in (1.5, 3.0, 10.0, 100.0):
        p = dist.survival(x)
        observed = sum(v > x for v in xs)
        assert abs(observed - N * p) <= 4.0 * math.sqrt(N * p * (1 - p)) + 1, x


def test_empirical_draws_only_its_samples_in_proportion() -> None:
    samples = [0.1, 0.2, 0.2, 0.9]
    dist = EmpiricalService(samples, random.Random(10))
    counts = Counter(dist.draw() for _ in range(N))
    assert set(counts) == {0.1, 0.2, 0.9}
    for value, share in ((0.1, 0.25), (0.2, 0.5), (0.9, 0.25)):
        sd = math.sqrt(N * share * (1 - share))
        assert abs(counts[value] - N * share) <= 4.0 * sd


def test_constant_is_constant() -> None:
    dist = ConstantService(0.3)
    assert {dist.draw() for _ in range(100)} == {0.3}
    assert dist.scv == 0.0


@pytest.mark.parametrize("name", SERVICE_DISTRIBUTIONS)
def test_same_seed_same_draws(name: str) -> None:
    def draws(seed: int) -> list[float]:
        dist = make_service(name, random.Random(seed), mean=1.0, samples=(0.5, 1.0, 1.5, 2.0))
        return [dist.draw() for _ in range(200)]

    assert draws(5) == draws(5)
    if name != "constant":
        assert draws(5) != draws(6)


@pytest.mark.parametrize("name", SERVICE_DISTRIBUTIONS)
def test_factory_keeps_the_mean(name: str) -> None:
    dist = make_service(name, random.Random(0), mean=0.8, samples=(0.4, 1.2))
    assert isinstance(dist, ServiceTime)
    assert dist.mean == pytest.approx(0.8)
    assert dist.draw() >= 0.0


def test_uniform_defaults_and_explicit_bounds() -> None:
    default = make_service("uniform", random.Random(0), mean=2.0)
    assert isinstance(default, UniformService)
    assert (default.low, default.high) == (0.0, 4.0)
    around = make_service("uniform", random.Random(0), mean=2.0, low=1.5)
    assert (around.low, around.high, around.mean) == (1.5, 2.5, 2.0)
    explicit = make_service("uniform", random.Random(0), mean=9.0, low=1.0, high=2.0)
    assert explicit.mean == 1.5


@settings(max_examples=100, deadline=None)
@given(
    st.floats(1e-4, 1e4),
    st.floats(1.0001, 20.0),
    st.floats(0.0, 3.0),
    st.integers(0, 2**32),
)
def test_draws_are_non_negative_and_finite(
    mean: float, shape: float, sigma: float, seed: int
) -> None:
    rng = random.Random(seed)
    for name in SERVICE_DISTRIBUTIONS:
        dist = make_service(name, rng, mean=mean, shape=shape, sigma=sigma, samples=(mean,))
        assert dist.mean == pytest.approx(mean)
        for _ in range(20):
            x = dist.draw()
            assert 0.0 <= x < math.inf


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("pareto", {"mean": 1.0, "shape": 0.8}, "shape: must be > 1 for a finite mean (got 0.8)"),
        ("pareto", {"mean": 1.0, "shape": 1.0}, "shape: must be > 1 for a finite mean (got 1.0)"),
        ("exponential", {"mean": 0.0}, "mean: must be > 0 (got 0)"),
        ("constant", {"mean": -1.0}, "mean: must be > 0 (got -1)"),
        ("lognormal", {"mean": math.inf}, "mean: must be a finite number (got inf)"),
        ("lognormal", {"mean": 1.0, "sigma": -0.1}, "sigma: must be >= 0 (got -0.1)"),
        ("uniform", {"mean": 1.0, "low": -1.0}, "low: must be >= 0 (got -1)"),
        ("uniform", {"mean": 1.0, "low": 3.0, "high": 2.0}, "high: must be >= low (2.0 < 3.0)"),
        ("uniform", {"mean": 1.0, "low": 0.0, "high": 0.0}, "high: must be > 0 (got 0)"),
        ("empirical", {"mean": 1.0}, "samples: must not be empty"),
        ("empirical", {"mean": 1.0, "samples": [1.0, -2.0]}, "samples[1]: must be >= 0 (got -2)"),
        ("empirical", {"mean": 1.0, "samples": [0.0, 0.0]}, "samples: must have a positive mean"),
        ("exponential", {"mean": "slow"}, "mean: must be a number (got 'slow')"),
        ("gamma", {"mean": 1.0}, "distribution: unknown service-time distribution 'gamma' ("),
    ],
)
def test_invalid_parameters_are_refused_by_name(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        make_service(name, random.Random(0), **kwargs)
