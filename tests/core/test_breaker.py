"""Circuit breaker: consecutive failures open it, time half-opens it, probes decide."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.policies import BreakerState, CircuitBreaker

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def tripped(at: float = 0.0, **knobs: object) -> CircuitBreaker:
    breaker = CircuitBreaker(**{"failure_threshold": 3, "open_for": 10.0, **knobs})  # type: ignore[arg-type]
    for _ in range(breaker.failure_threshold):
        breaker.record_failure(at)
    return breaker


def test_consecutive_failures_open_it_and_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, open_for=10.0)
    breaker.record_failure(0.0)
    breaker.record_failure(0.0)
    breaker.record_success(0.0)
    breaker.record_failure(1.0)
    breaker.record_failure(1.0)
    assert breaker.state(1.0) is CLOSED
    assert breaker.consecutive_failures == 2
    assert breaker.allow(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is OPEN
    assert breaker.reopens_at == 12.0
    assert breaker.transitions == 1


def test_open_refuses_until_open_for_has_passed() -> None:
    breaker = tripped(at=5.0)
    assert breaker.next_change(5.0) == 15.0
    assert not breaker.allow(5.0)
    assert not breaker.allow(14.999)
    assert breaker.state(14.999) is OPEN
    assert breaker.allow(15.0)  # half-open now, and this is its one probe
    assert breaker.state(15.0) is HALF_OPEN
    assert breaker.next_change(15.0) is None
    assert breaker.reopens_at is None
    assert not breaker.allow(15.0)  # the probe slot is taken


def test_state_and_next_change_observe_the_time() -> None:
    breaker = tripped(at=0.0)
    assert breaker.next_change(9.0) == 10.0
    assert breaker.state(10.0) is HALF_OPEN
    assert breaker.transitions == 2


def test_half_open_failure_reopens_for_a_full_period() -> None:
    breaker = tripped(at=0.0)
    assert breaker.allow(10.0)
    breaker.record_failure(12.0)
    assert breaker.state(12.0) is OPEN
    assert breaker.reopens_at == 22.0
    assert not breaker.allow(21.0)
    assert breaker.allow(22.0)


def test_half_open_probes_successes_close_it() -> None:
    breaker = tripped(at=0.0, half_open_probes=2)
    assert breaker.allow(10.0)
    assert breaker.allow(10.0)
    assert not breaker.allow(10.0)  # two probes in flight at most
    assert breaker.probes_in_flight == 2
    breaker.record_success(11.0)
    assert breaker.state(11.0) is HALF_OPEN
    assert breaker.allow(11.0)  # the finished probe's slot is free again
    breaker.record_success(12.0)
    assert breaker.state(12.0) is CLOSED
    assert breaker.consecutive_failures == 0
    assert breaker.transitions == 3  # closed->open->half_open->closed


def test_release_gives_an_unused_probe_back() -> None:
    breaker = tripped(at=0.0)
    assert breaker.allow(10.0)
    assert not breaker.allow(10.0)
    breaker.release(10.5)
    assert breaker.allow(10.5)


def test_stale_results_are_ignored_with_an_epoch() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_for=10.0)
    assert breaker.allow(0.0)
    slow = breaker.epoch  # a slow task started while closed
    breaker.record_failure(1.0)
    breaker.record_failure(1.0)
    assert breaker.allow(11.0)
    probe = breaker.epoch
    breaker.record_success(12.0, epoch=slow)  # the slow task is no probe
    assert breaker.state(12.0) is HALF_OPEN
    assert not breaker.allow(12.0)
    breaker.record_success(13.0, epoch=probe)
    assert breaker.state(13.0) is CLOSED
    breaker.record_failure(14.0, epoch=slow)
    breaker.record_failure(14.0, epoch=slow)
    assert breaker.state(14.0) is CLOSED  # old news cannot re-open what the probe closed


def test_results_while_open_change_nothing() -> None:
    breaker = tripped(at=0.0)
    breaker.record_success(1.0)
    breaker.record_failure(2.0)
    assert breaker.reopens_at == 10.0
    assert breaker.state(2.0) is OPEN


def test_reconfigure_keeps_the_state() -> None:
    breaker = tripped(at=0.0)
    breaker.reconfigure(open_for=4.0)
    assert breaker.state(3.0) is OPEN
    assert breaker.next_change(3.0) == 4.0
    assert breaker.allow(4.0)
    with pytest.raises(ValueError, match=r"^half_open_probes: must be >= 1 \(got 0\)$"):
        breaker.reconfigure(open_for=1.0, half_open_probes=0)
    assert breaker.open_for == 4.0
    with pytest.raises(ValueError, match=r"^cooldown: not a knob of the circuit breaker"):
        breaker.reconfigure(cooldown=1.0)
    breaker.reconfigure(failure_threshold=1)
    assert breaker.knobs() == {"failure_threshold": 1, "open_for": 4.0, "half_open_probes": 1}
    assert "open" in breaker.describe()


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"failure_threshold": 0, "open_for": 1.0}, r"^failure_threshold: must be >= 1"),
        ({"failure_threshold": 1, "open_for": -1.0}, r"^open_for: must be >= 0"),
        ({"failure_threshold": 1, "open_for": float("nan")}, r"^open_for: must be a finite"),
        (
            {"failure_threshold": 1, "open_for": 1.0, "half_open_probes": 0},
            r"^half_open_probes: must be >= 1",
        ),
    ],
)
def test_refuses_bad_knobs(knobs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CircuitBreaker(**knobs)  # type: ignore[arg-type]


# An engine in miniature: time advances, workers try to start tasks, tasks end in success or
# failure (each carrying the epoch it started in), some permissions go unused.
actions = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.0])),
        st.tuples(st.just("start"), st.just(0)),
        st.tuples(st.just("finish"), st.integers(0, 1_000), st.booleans()),
        st.tuples(st.just("unused"), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(
    threshold=st.integers(1, 4),
    open_for=st.sampled_from([0.0, 1.0, 5.0]),
    probes=st.integers(1, 3),
    steps=actions,
    use_epochs=st.booleans(),
)
def test_breaker_invariants(
    threshold: int, open_for: float, probes: int, steps: list, use_epochs: bool
) -> None:
    breaker = CircuitBreaker(threshold, open_for, probes)
    now, opened_at = 0.0, None
    in_flight: list[tuple[int, BreakerState]] = []  # (epoch, state it started in)
    for step in steps:
        kind = step[0]
        if kind == "wait":
            now += step[1]
        elif kind in ("start", "unused"):
            if opened_at is not None and now < opened_at + open_for:
                assert not breaker.allow(now), "allowed while OPEN before open_for"
                continue
            if breaker.allow(now):
                if kind == "unused":
                    breaker.release(now, breaker.epoch if use_epochs else None)
                else:
                    in_flight.append((breaker.epoch, breaker.state(now)))
        elif in_flight:
            epoch, _ = in_flight.pop(step[1] % len(in_flight))
            tag = epoch if use_epochs else None
            before = breaker.state(now)
            if step[2]:
                breaker.record_success(now, tag)
            else:
                breaker.record_failure(now, tag)
            if breaker.state(now) is OPEN and before is not OPEN:
                opened_at = now
        state = breaker.state(now)
        if state is OPEN:
            assert opened_at is not None
            assert breaker.reopens_at == opened_at + open_for
            assert now < opened_at + open_for
        if state is HALF_OPEN:
            assert breaker.probes_in_flight <= probes
            if use_epochs:
                probing = [e for e, s in in_flight if s is HALF_OPEN and e == breaker.epoch]
                assert len(probing) == breaker.probes_in_flight
        assert breaker.probes_in_flight >= 0
