"""Bounded statistics: histogram quantiles against exact ones, batch-means coverage, t quantiles."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.stats import BatchMeans, LogHistogram, sorted_quantile, t975

values = st.one_of(
    st.just(0.0),
    st.floats(1e-6, 1e6, allow_nan=False),
    st.floats(0.0, 1e-6, allow_nan=False),  # below min_value: absolute error
)
quantile_points = st.floats(0.0, 1.0, allow_nan=False)


@given(st.lists(values, min_size=1, max_size=300), st.lists(quantile_points, max_size=5))
def test_histogram_quantiles_within_relative_error(data: list[float], qs: list[float]) -> None:
    h = LogHistogram(relative_error=0.005, min_value=1e-6)
    for x in data:
        h.add(x)
    exact = sorted(data)
    for q in [0.0, 0.5, 0.95, 0.99, 1.0, *qs]:
        truth = sorted_quantile(exact, q)
        assert abs(h.quantile(q) - truth) <= 0.005 * truth * (1 + 1e-9) + 1e-6
    assert h.max == exact[-1]
    assert h.min == exact[0]
    assert h.mean == pytest.approx(statistics.fmean(data), rel=1e-9, abs=1e-12)
    assert h.count == len(data)


@given(st.lists(st.floats(0.0, 1e3, allow_nan=False), min_size=1, max_size=50))
def test_extend_and_merge_match_add(data: list[float]) -> None:
    one = LogHistogram()
    for x in data:
        one.add(x)
    two = LogHistogram()
    half = len(data) // 2
    two.extend(data[:half])
    other = LogHistogram()
    other.extend(data[half:])
    two.merge(other)
    qs = (0.0, 0.3, 0.5, 0.99, 1.0)
    assert one.quantiles(qs) == two.quantiles(qs)
    assert (one.count, one.zeros, one.buckets, one.max) == (
        two.count,
        two.zeros,
        two.buckets,
        two.max,
    )


def test_histogram_edges() -> None:
    h = LogHistogram()
    assert math.isnan(h.quantile(0.5)) and math.isnan(h.mean) and math.isnan(h.max)
    with pytest.raises(ValueError):
        h.add(-1.0)
    with pytest.raises(ValueError):
        h.add(float("nan"))
    with pytest.raises(ValueError):
        h.quantile(1.5)
    with pytest.raises(ValueError):
        h.merge(LogHistogram(relative_error=0.01))
    with pytest.raises(ValueError):
        LogHistogram(relative_error=0.0)
    with pytest.raises(ValueError):
        h.add(math.inf)
    with pytest.raises(ValueError):
        h.extend([1.0, 2.0, float("nan")])
    with pytest.raises(ValueError):
        h.extend([1.0, -2.0])
    with pytest.raises(ValueError):
        h.extend([1.0, math.inf])
    assert h.count == 0  # a refused batch counts nothing
    h.extend([0.0, 0.0, 5.0])
    assert h.zeros == 2 and h.quantile(0.5) == 0.0 and h.quantile(1.0) == 5.0


def test_histogram_memory_is_set_by_the_range_not_the_count() -> None:
    rng = random.Random(11)
    h = LogHistogram(relative_error=0.005, min_value=1e-6)
    h.extend(rng.lognormvariate(0.0, 3.0) for _ in range(200_000))
    gamma = (1 + 0.005) / (1 - 0.005)
    assert h.buckets <= math.log(h.max / max(h.min, 1e-6)) / math.log(gamma) + 2
    assert h.buckets < 5000


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40))
def test_sorted_quantile_is_the_inclusive_definition(data: list[float]) -> None:
    data.sort()
    cut = statistics.quantiles(data, n=20, method="inclusive")
    for k, expected in enumerate(cut, start=1):
        assert sorted_quantile(data, k / 20) == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert sorted_quantile(data, 0.0) == data[0]
    assert sorted_quantile(data, 1.0) == data[-1]
    assert math.isnan(sorted_quantile([], 0.5))


def test_batch_means_ci_covers_the_true_mean_about_95_percent() -> None:
    rng = random.Random(2024)
    covered = 0
    reps = 200
    for _ in range(reps):
        bm = BatchMeans(max_batches=64)
        for _ in range(1000):
            bm.add(rng.gauss(3.0, 2.0))
        half = bm.ci95_halfwidth()
        assert math.isfinite(half) and half > 0
        covered += abs(bm.mean - 3.0) <= half
    assert 0.88 * reps <= covered <= 0.99 * reps


def test_batch_means_widens_for_correlated_series() -> None:
    """AR(1) with φ = 0.9: the variance of the mean is (1+φ)/(1-φ) = 19 times the iid one."""
    rng = random.Random(5)
    bm = BatchMeans()
    x = 0.0
    n = 60_000
    series_sd = 1.0 / math.sqrt(1 - 0.81)
    for _ in range(n):
        x = 0.9 * x + rng.gauss(0.0, 1.0)
        bm.add(x)
    naive = 1.96 * series_sd / math.sqrt(n)
    assert bm.ci95_halfwidth() > 2.5 * naive
    assert abs(bm.mean) < 2 * bm.ci95_halfwidth()


def test_batch_means_memory_is_bounded() -> None:
    bm = BatchMeans(max_batches=64)
    for i in range(1_000_000):
        bm.add(float(i & 1023))
    assert 32 <= len(bm.batches) <= 64
    assert bm.batch_size & (bm.batch_size - 1) == 0  # a power of two
    assert bm.count == 1_000_000
    assert bm.mean == pytest.approx(sum(i & 1023 for i in range(1_000_000)) / 1_000_000)


def test_batch_means_needs_ten_batches() -> None:
    bm = BatchMeans()
    bm.extend([1.0, 2.0] * 4)
    assert math.isnan(bm.ci95_halfwidth())
    bm.extend([1.0, 2.0])
    assert math.isfinite(bm.ci95_halfwidth())
    assert math.isnan(BatchMeans().mean)
    with pytest.raises(ValueError):
        BatchMeans(max_batches=15)


def _t_cdf_upper_half(t: float, dof: int, steps: int = 4000) -> float:
    """∫_0^t of the Student-t density by Simpson's rule: P(0 < T < t)."""
    v = float(dof)
    log_norm = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)

    def pdf(x: float) -> float:
        return math.exp(log_norm - (v + 1) / 2 * math.log1p(x * x / v))

    h = t / steps
    total = pdf(0.0) + pdf(t)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * pdf(i * h)
    return total * h / 3


@pytest.mark.parametrize("dof", [1, 2, 3, 5, 10, 20, 29, 30, 31, 40, 63, 100, 1000])
def test_t975_is_the_975_quantile(dof: int) -> None:
    assert 0.5 + _t_cdf_upper_half(t975(dof), dof) == pytest.approx(0.975, abs=2e-5)


def test_t975_rejects_zero_dof() -> None:
    with pytest.raises(ValueError):
        t975(0)


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), max_size=400), st.integers(0, 400))
def test_batch_means_extend_matches_add(data: list[float], cut: int) -> None:
    one, two = BatchMeans(max_batches=20), BatchMeans(max_batches=20)
    for x in data:
        one.add(x)
    two.extend(data[:cut])
    two.extend(iter(data[cut:]))
    assert (one.count, one.batch_size, len(one.batches)) == (
        two.count,
        two.batch_size,
        len(two.batches),
    )
    assert two.batches == pytest.approx(one.batches, rel=1e-9, abs=1e-9)


def test_a_large_batch_buckets_exactly_like_single_adds() -> None:
    """Batches from 256 values on are bucketed with NumPy; the counts must not change."""
    rng = random.Random(3)
    values = [0.0] * 50 + [rng.lognormvariate(0, 2) for _ in range(5000)] + [1e-9] * 7
    one, batch = LogHistogram(), LogHistogram()
    for v in values:
        one.add(v)
    batch.extend(values)
    assert batch.zeros == one.zeros == 57
    assert batch.count == one.count
    assert batch.quantiles((0.1, 0.5, 0.9, 0.99)) == one.quantiles((0.1, 0.5, 0.9, 0.99))
    assert batch.buckets == one.buckets
