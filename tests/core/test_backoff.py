"""Retry with exponential backoff: attempts, nominal delays, the three jitters, validation."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from queuelab.core.limits import TICK
from queuelab.core.policies import JITTERS, RETRY_MODES, RetryPolicy


def test_exports() -> None:
    assert RETRY_MODES == ("requeue", "inline")
    assert JITTERS == ("none", "full", "equal")


def test_max_attempts_counts_the_first_attempt() -> None:
    once = RetryPolicy(max_attempts=1, base_delay=1.0)
    assert not once.should_retry(1)  # attempt 1 failed: dead letter
    three = RetryPolicy(max_attempts=3, base_delay=1.0)
    assert [three.should_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]


def test_nominal_delays_as_in_the_notes_then_capped() -> None:
    # The textbook rule: base_delay * 2^(attempt-1).
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=10.0, jitter="none")
    assert [policy.nominal_delay(a) for a in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    assert policy.nominal_delay(10_000) == 10.0  # far past the table, no overflow
    assert policy.total_nominal_delay() == 1 + 2 + 4 + 8 + 10 + 10 + 10
    rng = random.Random(0)
    assert [policy.delay(a, rng.random()) for a in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]


def test_other_multipliers_and_zero_base() -> None:
    triple = RetryPolicy(max_attempts=4, base_delay=0.5, multiplier=3.0, jitter="none")
    assert [triple.nominal_delay(a) for a in (1, 2, 3)] == [0.5, 1.5, 4.5]
    flat = RetryPolicy(max_attempts=5, base_delay=2.0, multiplier=1.0)
    assert [flat.nominal_delay(a) for a in (1, 2, 50)] == [2.0, 2.0, 2.0]
    assert flat.total_nominal_delay() == 8.0
    zero = RetryPolicy(max_attempts=5, base_delay=0.0)
    assert zero.nominal_delay(40) == 0.0
    assert zero.total_nominal_delay() == 0.0
    assert RetryPolicy(max_attempts=1, base_delay=3.0).total_nominal_delay() == 0.0


def test_total_for_huge_attempt_counts_is_immediate() -> None:
    policy = RetryPolicy(max_attempts=10**12, base_delay=1.0, max_delay=60.0)
    assert policy.total_nominal_delay() == pytest.approx(
        1 + 2 + 4 + 8 + 16 + 32 + 60 * (10**12 - 7)
    )


def test_total_when_growth_outlasts_the_table() -> None:
    policy = RetryPolicy(max_attempts=20_000, base_delay=0.001, multiplier=1.001, max_delay=1000)
    brute = math.fsum(policy.nominal_delay(a) for a in range(1, 20_000))
    assert policy.total_nominal_delay() == pytest.approx(brute, rel=1e-6)


def test_full_jitter_is_uniform_below_the_nominal_delay() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, jitter="full")
    rng = random.Random(7)
    draws = [policy.delay(3, rng.random()) for _ in range(20_000)]
    assert all(0.0 <= d < 4.0 for d in draws)
    assert statistics.fmean(draws) == pytest.approx(2.0, rel=0.03)


def test_equal_jitter_keeps_half_the_nominal_delay() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, jitter="equal")
    rng = random.Random(7)
    draws = [policy.delay(3, rng.random()) for _ in range(20_000)]
    assert all(2.0 <= d < 4.0 for d in draws)
    assert statistics.fmean(draws) == pytest.approx(3.0, rel=0.02)


def test_same_seed_same_delays() -> None:
    policy = RetryPolicy(max_attempts=9, base_delay=0.1)
    first = [policy.delay(a, random.Random(3).random()) for a in range(1, 9)]
    again = [policy.delay(a, random.Random(3).random()) for a in range(1, 9)]
    assert first == again


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"max_attempts": 0, "base_delay": 1.0}, r"^max_attempts: must be >= 1 \(got 0\)$"),
        ({"max_attempts": 2.0, "base_delay": 1.0}, r"^max_attempts: must be a whole number"),
        ({"max_attempts": 2, "base_delay": -1.0}, r"^base_delay: must be >= 0 \(got -1\)$"),
        (
            {"max_attempts": 2, "base_delay": 1.0, "multiplier": 0.5},
            r"^multiplier: must be >= 1 \(got 0.5\)$",
        ),
        (
            {"max_attempts": 2, "base_delay": 5.0, "max_delay": 1.0},
            r"^max_delay: must be >= base_delay \(1 < 5\)$",
        ),
        (
            {"max_attempts": 2, "base_delay": 1.0, "jitter": "decorrelated"},
            r"^jitter: must be one of 'none', 'full', 'equal' \(got 'decorrelated'\)$",
        ),
        ({"max_attempts": 2, "base_delay": math.inf}, r"^base_delay: must be a finite number"),
    ],
)
def test_refuses_bad_knobs(knobs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**knobs)  # type: ignore[arg-type]


def test_nominal_delay_refuses_attempt_zero() -> None:
    with pytest.raises(ValueError, match=r"^attempt: must be >= 1"):
        RetryPolicy(max_attempts=3, base_delay=1.0).nominal_delay(0)


def test_reconfigure() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter="none")
    policy.reconfigure(base_delay=2.0, max_attempts=4)
    assert [policy.nominal_delay(a) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert policy.total_nominal_delay() == 14.0
    with pytest.raises(ValueError, match=r"^max_delay: must be >= base_delay"):
        policy.reconfigure(base_delay=100.0)
    assert policy.base_delay == 2.0  # a refused change applies nothing
    with pytest.raises(ValueError, match=r"^mode: not a knob of the retry policy"):
        policy.reconfigure(mode="inline")
    assert policy == RetryPolicy(max_attempts=4, base_delay=2.0, jitter="none")


def test_describe() -> None:
    assert "2s, 4s, 8s" in RetryPolicy(max_attempts=4, base_delay=2.0).describe()
    assert "dead-lettered" in RetryPolicy(max_attempts=1, base_delay=2.0).describe()
    assert "dead-lettered after 14s of backoff at most" in RetryPolicy(
        max_attempts=4, base_delay=2.0, jitter="full").describe()


@settings(max_examples=200, deadline=None)
@given(
    max_attempts=st.integers(1, 60),
    base=st.floats(0.0, 50.0),
    multiplier=st.floats(1.0, 10.0),
    extra=st.floats(0.0, 500.0),
    jitter=st.sampled_from(JITTERS),
    seed=st.integers(0, 2**32),
)
@example(max_attempts=60, base=5e-324, multiplier=10.0, extra=0.0, jitter="none", seed=0)
def test_delays_bounded_and_nominal_monotone(
    max_attempts: int, base: float, multiplier: float, extra: float, jitter: str, seed: int
) -> None:
    if 0 < base < TICK or 0 < base + extra < TICK:  # a denormal delay: refused, with the rule
        with pytest.raises(ValueError, match=r"_delay: must be 0 or >= 0.001 \(got "):
            RetryPolicy(max_attempts, base, multiplier, base + extra, jitter)
        return
    policy = RetryPolicy(max_attempts, base, multiplier, base + extra, jitter)
    rng = random.Random(seed)
    nominal = [policy.nominal_delay(a) for a in range(1, 80)]
    assert all(a <= b for a, b in itertools.pairwise(nominal))
    assert all(0.0 <= d <= policy.max_delay for d in nominal)
    for attempt in range(1, 80):
        d = policy.delay(attempt, rng.random())
        assert 0.0 <= d <= policy.max_delay
        assert d <= nominal[attempt - 1]
        if jitter == "equal":
            assert d >= nominal[attempt - 1] / 2
    assert policy.total_nominal_delay() == pytest.approx(math.fsum(nominal[: max_attempts - 1]))
