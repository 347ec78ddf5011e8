"""Failure model and priority mix: frequencies, poison, stream alignment, refusals."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.failures import FailureModel, PriorityMix
from queuelab.core.streams import uniform_stream

N = 200_000


def model(probability: float, poison_fraction: float, seed: int) -> FailureModel:
    """A failure model on two streams of its own, as `core.streams.Streams` gives them."""
    return FailureModel(probability, poison_fraction,
                        uniform_stream(random.Random(f"{seed}:poison")),
                        uniform_stream(random.Random(f"{seed}:attempt")))


def level_draws(mix: PriorityMix, seed: int, n: int) -> list[int]:
    rng = random.Random(seed)
    return [mix.level(rng.random()) for _ in range(n)]


def within_4_sd(observed: int, n: int, p: float) -> bool:
    return abs(observed - n * p) <= 4.0 * math.sqrt(n * p * (1.0 - p)) + 1.0


def test_attempts_fail_with_the_probability() -> None:
    m = model(0.07, 0.0, 1)
    assert within_4_sd(sum(m.attempt_fails(False) for _ in range(N)), N, 0.07)


def test_poison_fraction_and_poison_always_fails() -> None:
    m = model(0.0, 0.02, 2)
    assert within_4_sd(sum(m.is_poison() for _ in range(N)), N, 0.02)
    assert all(m.attempt_fails(True) for _ in range(1000))
    assert not any(m.attempt_fails(False) for _ in range(1000))


def test_extreme_probabilities() -> None:
    always = model(1.0, 1.0, 3)
    assert all(always.attempt_fails(False) and always.is_poison() for _ in range(1000))
    never = model(0.0, 0.0, 3)
    assert not any(never.attempt_fails(False) or never.is_poison() for _ in range(1000))


def test_knob_values_do_not_shift_the_streams() -> None:
    """One draw per decision, on the decision's own stream, whatever the knobs: runs that
    differ in a knob stay aligned, and poison does not depend on the failure probability."""
    low, high = model(0.0, 0.0, 4), model(0.9, 1.0, 4)
    also = model(0.5, 0.0, 4)
    for i in range(1000):
        poison = i % 3 == 0
        assert low.is_poison() is False
        assert high.is_poison() is True
        also.is_poison()
        low.attempt_fails(poison), high.attempt_fails(poison), also.attempt_fails(poison)
    after = [m.poison() for m in (low, high, also)] + [m.attempt() for m in (low, high, also)]
    assert after[0] == after[1] == after[2] and after[3] == after[4] == after[5]


def test_same_seed_same_decisions() -> None:
    def decisions(seed: int) -> list[bool]:
        m = model(0.3, 0.1, seed)
        return [m.attempt_fails(m.is_poison()) for _ in range(500)]

    assert decisions(9) == decisions(9)
    assert decisions(9) != decisions(10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probability": -0.1}, "probability: must be >= 0 (got -0.1)"),
        ({"probability": 1.5}, "probability: must be <= 1 (got 1.5)"),
        ({"probability": math.nan}, "probability: must be a finite number (got nan)"),
        ({"poison_fraction": 2.0}, "poison_fraction: must be <= 1 (got 2)"),
        ({"poison_fraction": None}, "poison_fraction: must be a number (got None)"),
    ],
)
def test_failure_knobs_refused_by_name(kwargs: dict, message: str) -> None:
    args = {"probability": 0.1, "poison_fraction": 0.0} | kwargs
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        model(args["probability"], args["poison_fraction"], 0)


def test_priority_frequencies_follow_weights() -> None:
    mix = PriorityMix([6, 3, 1])
    draws = level_draws(mix, 5, N)
    for level, share in enumerate(mix.probabilities):
        assert within_4_sd(draws.count(level), N, share), level
    assert mix.probabilities == pytest.approx((0.6, 0.3, 0.1))
    assert mix.levels == 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.0]), min_size=1, max_size=8).filter(any),
    st.integers(0, 2**32),
)
def test_priority_draws_only_levels_with_weight(weights: list[float], seed: int) -> None:
    mix = PriorityMix(weights)
    for level in level_draws(mix, seed, 200):
        assert 0 <= level < len(weights)
        assert weights[level] > 0.0


def test_single_level_is_always_zero() -> None:
    mix = PriorityMix([2.5])
    assert set(level_draws(mix, 6, 100)) == {0}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "weights: must not be empty"),
        ([0.0, 0.0], "weights: must have a positive sum (got all zeros)"),
        ([1.0, -1.0], "weights[1]: must be >= 0 (got -1)"),
        ([math.inf], "weights[0]: must be a finite number (got inf)"),
        ([1.0, "x"], "weights[1]: must be a number (got 'x')"),
    ],
)
def test_priority_weights_refused_by_name(weights: list, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        PriorityMix(weights)
