"""Autoscalers: the threshold rule, and HPA/KEDA-style target tracking."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.policies import (
    Autoscaler,
    PoolObservation,
    TargetTrackingAutoscaler,
    ThresholdAutoscaler,
    make_autoscaler,
)


def obs(backlog: int, workers: int, busy: int = 0) -> PoolObservation:
    return PoolObservation(backlog=backlog, workers=workers, busy=busy)


# -- threshold ----------------------------------------------------------------------------


def notes_pool() -> ThresholdAutoscaler:
    """A classic setting: min 2, max 10, up above 100, down below 10."""
    return ThresholdAutoscaler(2, 10, scale_up_threshold=100, scale_down_threshold=10)


@pytest.mark.parametrize(
    ("backlog", "workers", "expected"),
    [
        (150, 2, 3),  # above the up threshold: one more
        (150, 9, 10),
        (150, 10, 10),  # at max: stays
        (100, 5, 5),  # the thresholds are strict
        (10, 5, 5),
        (50, 5, 5),  # between them: stays
        (5, 5, 4),  # below the down threshold: one fewer
        (5, 3, 2),
        (5, 2, 2),  # at min: stays
        (0, 0, 2),  # a pool started empty is brought up to min at once
        (50, 14, 10),  # above a (lowered) max: clamped
    ],
)
def test_threshold_rule(backlog: int, workers: int, expected: int) -> None:
    assert notes_pool().decide(0.0, obs(backlog, workers)) == expected


def test_threshold_follows_a_burst_one_step_per_check() -> None:
    scaler = notes_pool()
    workers, seen = 2, []
    for t, backlog in enumerate([500] * 10 + [0] * 10):
        workers = scaler.decide(5.0 * t, obs(backlog, workers))
        seen.append(workers)
    assert seen == [3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 2, 2]


def test_threshold_reconfigure_and_validation() -> None:
    scaler = notes_pool()
    scaler.reconfigure(scale_up_threshold=40)
    assert scaler.decide(0.0, obs(50, 4)) == 5
    with pytest.raises(ValueError, match=r"^scale_down_threshold: must be <= scale_up_threshold"):
        scaler.reconfigure(scale_down_threshold=50)
    assert scaler.scale_down_threshold == 10  # a refused change applies nothing
    with pytest.raises(ValueError, match=r"^max_workers: must be >= min_workers \(1 < 2\)$"):
        ThresholdAutoscaler(2, 1, 100, 10)
    with pytest.raises(ValueError, match=r"^wat: not a knob of the threshold autoscaler"):
        scaler.reconfigure(wat=1)
    assert "backlog > 40" in scaler.describe()
    assert "\n" not in scaler.describe()


# -- target tracking ----------------------------------------------------------------------


def target(**knobs: object) -> TargetTrackingAutoscaler:
    base: dict[str, object] = {
        "min_workers": 1,
        "max_workers": 50,
        "target_per_worker": 10,
        "stabilization_down": 0.0,
    }
    base.update(knobs)
    return TargetTrackingAutoscaler(**base)  # type: ignore[arg-type]


def test_raw_recommendation_is_backlog_over_target_rounded_up() -> None:
    scaler = target(max_step=100)
    assert scaler.decide(0.0, obs(95, 1)) == 10
    assert scaler.last_raw == 10
    assert scaler.decide(1.0, obs(3, 10)) == 1
    # 3 / 0.1 is 30.000000000000004 in floats; it still means 30 workers, not 31.
    assert target(target_per_worker=0.1, max_step=100).decide(0.0, obs(3, 1)) == 30


@pytest.mark.parametrize(
    ("backlog", "expected"),
    [(100, 10), (109, 10), (110, 10), (111, 12), (90, 10), (89, 9), (0, 1)],
)
def test_tolerance_band_keeps_the_count(backlog: int, expected: int) -> None:
    # 10 workers x 10 per worker, tolerance 0.1: a backlog of 90..110 changes nothing.
    assert target(tolerance=0.1, max_step=100).decide(0.0, obs(backlog, 10)) == expected


def test_single_spike_does_not_scale_down_for_the_down_window() -> None:
    scaler = target(stabilization_down=300.0)
    assert scaler.decide(0.0, obs(0, 1)) == 1
    assert scaler.decide(10.0, obs(100, 1)) == 5  # raw 10, at most 4 more
    for t in range(20, 301, 10):
        assert scaler.decide(float(t), obs(0, 5)) == 5, t
    # The spike's recommendation (t=10) leaves the window (t-300, t] at t=310.
    assert scaler.decide(310.0, obs(0, 5)) == 1


def test_up_window_needs_the_load_to_last() -> None:
    scaler = target(stabilization_up=60.0)
    assert scaler.decide(0.0, obs(0, 1)) == 1
    for t in range(10, 60, 10):
        assert scaler.decide(float(t), obs(100, 1)) == 1, t
    assert scaler.decide(60.0, obs(100, 1)) == 5  # t=0's "0" has left the up window


def test_max_step_limits_each_decision() -> None:
    assert target(max_step=3).decide(0.0, obs(1000, 2)) == 5
    assert target(max_step=3).decide(0.0, obs(0, 20)) == 17
    scaler = target(max_step=4)
    workers, path = 1, []
    for t in range(4):
        workers = scaler.decide(15.0 * t, obs(200, workers))
        path.append(workers)
    assert path == [5, 9, 13, 17]


def test_cooldown_holds_the_count_after_a_change() -> None:
    scaler = target(cooldown=30.0)
    assert scaler.decide(0.0, obs(100, 1)) == 5
    assert scaler.decide(10.0, obs(100, 5)) == 5  # wants 9, cooling down
    assert scaler.decide(29.9, obs(100, 5)) == 5
    assert scaler.decide(30.0, obs(100, 5)) == 9


def test_activation_wakes_from_zero_to_one_and_back() -> None:
    scaler = target(min_workers=0, activation=5.0, stabilization_down=60.0, cooldown=30.0)
    assert scaler.decide(0.0, obs(5, 0)) == 0  # at the activation value: stays asleep
    assert scaler.decide(10.0, obs(500, 0)) == 1  # wakes to exactly one worker, at once
    assert scaler.decide(20.0, obs(500, 1)) == 1  # cooldown after the wake-up change
    for t in range(30, 71, 10):  # inactive, but the window still holds t=20's 50
        assert scaler.decide(float(t), obs(3, 1)) == 1, t
    assert scaler.decide(80.0, obs(3, 1)) == 0  # inactive for the whole window: back to 0
    assert scaler.decide(90.0, obs(0, 0)) == 0


def test_active_pool_with_min_zero_keeps_one_worker() -> None:
    scaler = target(min_workers=0, activation=2.0)
    for t in range(10):
        assert scaler.decide(float(t), obs(3, 1)) == 1


def test_clamping_overrides_steps_and_cooldown() -> None:
    scaler = target(min_workers=3, max_workers=8, max_step=1, cooldown=1000.0)
    assert scaler.decide(0.0, obs(0, 0)) == 3  # below min: straight to min
    assert scaler.decide(1.0, obs(0, 30)) == 8  # above max: straight to max
    assert scaler.decide(2.0, obs(10_000, 8)) == 8


def test_reconfigure_keeps_the_window_history() -> None:
    scaler = target(stabilization_down=300.0)
    scaler.decide(0.0, obs(100, 1))
    assert scaler.decide(10.0, obs(100, 5)) == 9
    scaler.reconfigure(target_per_worker=20.0, max_step=8)
    assert scaler.decide(20.0, obs(0, 9)) == 9  # still inside the window of t=0..10's 10s
    scaler.reconfigure(stabilization_down=15.0)  # the kept history is read with the new window
    assert scaler.decide(30.0, obs(0, 9)) == 1
    assert scaler.knobs()["target_per_worker"] == 20.0


def test_reconfigure_checks_everything_before_applying() -> None:
    scaler = target()
    with pytest.raises(ValueError, match=r"^max_workers: must be >= min_workers \(50 < 60\)$"):
        scaler.reconfigure(min_workers=60)
    scaler.reconfigure(min_workers=60, max_workers=80)
    assert (scaler.min_workers, scaler.max_workers) == (60, 80)
    with pytest.raises(ValueError, match=r"^tolerance: must be <= 1 \(got 1.5\)$"):
        scaler.reconfigure(max_step=2, tolerance=1.5)
    assert scaler.max_step == 4


def test_time_must_not_go_backwards() -> None:
    scaler = target()
    scaler.decide(10.0, obs(0, 1))
    scaler.decide(10.0, obs(0, 1))
    with pytest.raises(ValueError, match=r"^now: went backwards"):
        scaler.decide(9.0, obs(0, 1))


def test_describe_is_one_line() -> None:
    line = target(min_workers=0, activation=3).describe()
    assert "\n" not in line
    assert "wakes above 3" in line


# -- factory and observation --------------------------------------------------------------


def test_make_autoscaler() -> None:
    scaler = make_autoscaler("target", min_workers=1, max_workers=4, target_per_worker=5)
    assert isinstance(scaler, TargetTrackingAutoscaler)
    assert isinstance(scaler, Autoscaler)
    threshold = make_autoscaler(
        "threshold", min_workers=1, max_workers=4, scale_up_threshold=9, scale_down_threshold=1
    )
    assert isinstance(threshold, ThresholdAutoscaler)


@pytest.mark.parametrize(
    ("kind", "knobs", "message"),
    [
        ("magic", {}, r"^kind: must be one of 'threshold', 'target', 'keda' \(got 'magic'\)$"),
        ("target", {"min_workers": 1, "max_workers": 4}, r"^target_per_worker: required"),
        (
            "target",
            {"min_workers": 1, "max_workers": 4, "target_per_worker": 0},
            r"^target_per_worker: must be > 0 \(got 0\)$",
        ),
        (
            "target",
            {"min_workers": -1, "max_workers": 4, "target_per_worker": 1},
            r"^min_workers: must be >= 0 \(got -1\)$",
        ),
        (
            "target",
            {"min_workers": 1, "max_workers": 4, "target_per_worker": 1, "max_step": 0},
            r"^max_step: must be >= 1 \(got 0\)$",
        ),
        (
            "target",
            {"min_workers": 1, "max_workers": 4, "target_per_worker": 1, "cooldown": math.nan},
            r"^cooldown: must be a finite number",
        ),
        (
            "threshold",
            {
                "min_workers": 1.5,
                "max_workers": 4,
                "scale_up_threshold": 9,
                "scale_down_threshold": 1,
            },
            r"^min_workers: must be a whole number \(got 1.5\)$",
        ),
        ("threshold", {"up": 3}, r"^up: not a knob of the threshold autoscaler"),
    ],
)
def test_make_autoscaler_refuses(kind: str, knobs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_autoscaler(kind, **knobs)


def test_observation_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"^backlog: must be >= 0"):
        PoolObservation(backlog=-1, workers=0, busy=0)


# -- invariants ---------------------------------------------------------------------------


def reference_raw(scaler: TargetTrackingAutoscaler, backlog: int, workers: int) -> int:
    """The documented raw recommendation, in exact rational arithmetic."""
    if scaler.min_workers == 0 and backlog <= scaler.activation:
        return 0
    per = Fraction(scaler.target_per_worker)
    if workers > 0 and abs(backlog - workers * per) <= Fraction(scaler.tolerance) * workers * per:
        return workers
    return math.ceil(backlog / per)


knob_sets = st.fixed_dictionaries(
    {
        "min_workers": st.integers(0, 5),
        "extra": st.integers(0, 30),
        "target_per_worker": st.sampled_from([0.5, 1, 2, 3, 5, 10, 25]),
        "tolerance": st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]),
        "stabilization_up": st.sampled_from([0.0, 5.0, 30.0]),
        "stabilization_down": st.sampled_from([0.0, 10.0, 60.0, 300.0]),
        "max_step": st.integers(1, 6),
        "cooldown": st.sampled_from([0.0, 5.0, 20.0]),
        "activation": st.sampled_from([0.0, 1.0, 7.0]),
    }
)
# Each check: (seconds since the last one, backlog, workers the engine reports instead of the
# last decision - None when it followed it, a number when workers crashed or lagged).
checks = st.lists(
    st.tuples(
        st.sampled_from([0.0, 1.0, 2.5, 5.0, 15.0, 40.0]),
        st.integers(0, 400),
        st.none() | st.integers(0, 40),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(knobs=knob_sets, steps=checks)
def test_target_tracking_invariants(knobs: dict[str, float], steps: list) -> None:
    knobs = dict(knobs)
    knobs["max_workers"] = max(1, knobs["min_workers"]) + knobs.pop("extra")
    scaler = TargetTrackingAutoscaler(**knobs)  # type: ignore[arg-type]
    window = scaler.stabilization_down
    raws: list[tuple[float, int]] = []
    now, workers = 0.0, 0
    for dt, backlog, reported in steps:
        now += dt
        if reported is not None:
            workers = reported
        desired = scaler.decide(now, obs(backlog, workers))
        raw = scaler.last_raw
        assert raw == reference_raw(scaler, backlog, workers)
        raws.append((now, raw))
        assert scaler.min_workers <= desired <= scaler.max_workers
        in_range = scaler.min_workers <= workers <= scaler.max_workers
        if in_range and workers > 0:
            assert abs(desired - workers) <= scaler.max_step
        if desired < workers and in_range:
            # A fall never goes below a raw recommendation made within the down window.
            recent = [r for t, r in raws[:-1] if t > now - window] + [raw]
            assert max(recent) <= desired, (now, desired, recent)
        if workers == 0 and scaler.min_workers == 0:
            assert desired == (1 if backlog > scaler.activation else 0)
        workers = desired


@settings(max_examples=150, deadline=None)
@given(
    low=st.integers(0, 5),
    extra=st.integers(0, 20),
    up=st.integers(0, 300),
    gap=st.integers(0, 300),
    steps=checks,
)
def test_threshold_invariants(low: int, extra: int, up: int, gap: int, steps: list) -> None:
    high = max(1, low) + extra
    scaler = ThresholdAutoscaler(low, high, up, max(0, up - gap))
    now, workers = 0.0, 0
    for dt, backlog, reported in steps:
        now += dt
        if reported is not None:
            workers = reported
        desired = scaler.decide(now, obs(backlog, workers))
        assert low <= desired <= high
        if low <= workers <= high:
            assert abs(desired - workers) <= 1
        workers = desired
