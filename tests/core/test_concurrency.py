"""Concurrency limit: a semaphore as a counter, plus prefetch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.policies import ConcurrencyLimit


def test_acquire_until_full_then_release() -> None:
    limit = ConcurrencyLimit(2)
    assert limit.try_acquire()
    assert limit.try_acquire()
    assert not limit.try_acquire()
    assert (limit.in_use, limit.available) == (2, 0)
    limit.release()
    assert (limit.in_use, limit.available) == (1, 1)
    assert limit.try_acquire()


def test_lowering_capacity_revokes_nothing() -> None:
    limit = ConcurrencyLimit(4)
    for _ in range(4):
        assert limit.try_acquire()
    limit.set_capacity(2)
    assert limit.in_use == 4  # the running tasks keep their slots
    assert limit.available == 0
    limit.release()
    limit.release()
    assert not limit.try_acquire()  # 2 in use, capacity 2: nothing comes back yet
    limit.release()
    assert limit.try_acquire()
    limit.set_capacity(5)
    assert limit.available == 3


def test_release_without_acquire_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="without a matching try_acquire"):
        ConcurrencyLimit(1).release()


def test_claim_budget_with_prefetch() -> None:
    limit = ConcurrencyLimit(4, prefetch=2)
    assert limit.claim_budget(0) == 6
    assert limit.claim_budget(5) == 1
    assert limit.claim_budget(6) == 0
    assert limit.claim_budget(9) == 0  # after a capacity cut: claim nothing, never negative
    assert ConcurrencyLimit(3).claim_budget(1) == 2


def test_reconfigure_and_validation() -> None:
    limit = ConcurrencyLimit(3)
    limit.reconfigure(capacity=5, prefetch=1)
    assert limit.knobs() == {"capacity": 5, "prefetch": 1}
    with pytest.raises(ValueError, match=r"^prefetch: must be >= 0 \(got -1\)$"):
        limit.reconfigure(capacity=7, prefetch=-1)
    assert limit.capacity == 5  # a refused change applies nothing
    with pytest.raises(ValueError, match=r"^capacity: must be >= 1 \(got 0\)$"):
        ConcurrencyLimit(0)
    with pytest.raises(ValueError, match=r"^capacity: must be a whole number \(got 2.5\)$"):
        limit.set_capacity(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^workers: not a knob of the concurrency limit"):
        limit.reconfigure(workers=3)
    assert "0/5" in limit.describe()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.one_of(st.just("acquire"), st.just("release"), st.integers(1, 6)), max_size=80),
)
def test_never_over_capacity_except_what_a_cut_left_running(first: int, ops: list) -> None:
    limit, held = ConcurrencyLimit(first), 0
    for op in ops:
        before = limit.in_use
        if op == "acquire":
            granted = limit.try_acquire()
            assert granted == (before < limit.capacity)
            held += granted
        elif op == "release":
            if held:
                limit.release()
                held -= 1
        else:
            limit.set_capacity(op)
        assert limit.in_use == held
        assert limit.available == max(0, limit.capacity - held)
        assert limit.in_use <= max(limit.capacity, before)
