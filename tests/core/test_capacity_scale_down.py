"""Capacity-aware scale-down (`pool.scale_down_max_utilization`): a worker is removed only if
the measured arrival rate over the capacity left after the step stays below the limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core import scenario_toml
from queuelab.core.changes import Route, route
from queuelab.core.metrics import RATE_WINDOW, MetricsRecorder
from queuelab.core.policies import (
    PoolObservation,
    TargetTrackingAutoscaler,
    ThresholdAutoscaler,
    make_autoscaler,
    scale_down_floor,
)
from queuelab.core.scenario_policies import autoscaler_for
from queuelab.core.validation import ScenarioError


def seen(workers: int, lam: float | None, mu: float | None, backlog: int = 0) -> PoolObservation:
    return PoolObservation(backlog=backlog, workers=workers, busy=0, arrival_rate=lam,
                           service_rate=mu)


def lesson_rule(limit: float = 0.8) -> ThresholdAutoscaler:
    """Lesson 7's pool: 9..12 workers, up above 50 waiting, down below 10."""
    return ThresholdAutoscaler(9, 12, 50.0, 10.0, scale_down_max_utilization=limit)


# -- the rule at its boundary --------------------------------------------------------------


def test_lesson_numbers_refuse_below_twelve_and_permit_above() -> None:
    rule = lesson_rule()
    assert rule.decide(0.0, seen(12, 95.0, 10.0)) == 12  # 95 / 110 = 0.86: refused
    assert rule.decide(0.0, seen(10, 95.0, 10.0)) == 10
    wide = ThresholdAutoscaler(1, 20, 50.0, 10.0, scale_down_max_utilization=0.8)
    assert wide.decide(0.0, seen(13, 95.0, 10.0)) == 12  # 95 / 120 = 0.79: permitted
    assert scale_down_floor(seen(13, 95.0, 10.0), 0.8) == 12


@pytest.mark.parametrize(("lam", "expected"), [(80.0, 11), (79.99, 10), (80.01, 11)])
def test_the_limit_is_strict(lam: float, expected: int) -> None:
    # 80 / (10 × 10) is exactly 0.8: not below it, so 11 workers cannot become 10
    wide = ThresholdAutoscaler(1, 20, 50.0, 10.0, scale_down_max_utilization=0.8)
    assert wide.decide(0.0, seen(11, lam, 10.0)) == expected
    floor = scale_down_floor(seen(11, lam, 10.0), 0.8)
    assert floor == (11 if lam >= 80 else 10)


def test_nothing_measured_means_no_proven_headroom() -> None:
    wide = ThresholdAutoscaler(1, 20, 50.0, 10.0, scale_down_max_utilization=0.5)
    assert wide.decide(0.0, seen(5, None, None)) == 5  # no frame closed yet
    assert wide.decide(0.0, seen(5, 3.0, None)) == 5  # load, but no attempt finished
    assert wide.decide(0.0, seen(5, 0.0, None)) == 4  # nothing arrives: nothing to carry
    assert scale_down_floor(seen(5, 0.0, None), 0.5) == 0


def test_off_ignores_the_rates() -> None:
    off = ThresholdAutoscaler(1, 20, 50.0, 10.0)
    assert off.scale_down_max_utilization == 1.0
    assert off.decide(0.0, seen(12, 95.0, 10.0)) == 11
    assert off.decide(0.0, seen(12, None, None)) == 11
    assert "λ" not in off.describe()
    assert "< 0.8" in lesson_rule().describe()


observations = st.builds(
    seen,
    workers=st.integers(0, 40),
    lam=st.none() | st.floats(0.0, 1000.0),
    mu=st.none() | st.floats(0.0, 100.0),
    backlog=st.integers(0, 200),
)


@given(observations, st.integers(0, 3), st.integers(0, 30))
def test_off_decides_exactly_as_before(o: PoolObservation, low: int, span: int) -> None:
    plain = ThresholdAutoscaler(low, low + span + 1, 50.0, 10.0)
    explicit = ThresholdAutoscaler(low, low + span + 1, 50.0, 10.0,
                                   scale_down_max_utilization=1.0)
    blind = PoolObservation(backlog=o.backlog, workers=o.workers, busy=0)
    assert plain.decide(0.0, o) == explicit.decide(0.0, o) == plain.decide(0.0, blind)
    target = TargetTrackingAutoscaler(low, low + span + 1, 5.0, stabilization_down=0.0)
    blind_target = TargetTrackingAutoscaler(low, low + span + 1, 5.0, stabilization_down=0.0)
    assert target.decide(0.0, o) == blind_target.decide(0.0, blind)


def overloaded_after_one_fewer(o: PoolObservation, limit: float) -> bool:
    """λ / ((n − 1) μ) >= limit as observed (unmeasured: no headroom shown)."""
    lam, mu, n = o.arrival_rate, o.service_rate, o.workers
    if lam is None:
        return True
    if lam == 0:
        return False
    return mu is None or not lam < limit * ((n - 1) * mu)


@given(observations, st.floats(0.01, 0.99), st.integers(0, 3))
def test_no_scale_down_into_overload(o: PoolObservation, limit: float, low: int) -> None:
    high = max(o.workers, low + 1)  # never a clamp from above: any drop is a scale-down
    rules = (ThresholdAutoscaler(low, high, 50.0, 10.0, scale_down_max_utilization=limit),
             TargetTrackingAutoscaler(low, high, 5.0, stabilization_down=0.0, max_step=40,
                                      scale_down_max_utilization=limit))
    for rule in rules:
        desired = rule.decide(0.0, o)
        if o.workers >= low and overloaded_after_one_fewer(o, limit):
            assert desired >= o.workers, rule
        if desired < o.workers:
            lam, mu = o.arrival_rate, o.service_rate
            assert lam is not None
            assert lam == 0 or (mu is not None and lam < limit * (desired * mu)), rule


def test_target_tracking_stops_at_the_capacity_floor() -> None:
    # an empty queue asks for min_workers; the rule keeps the 12 that carry 95/s below 0.8
    rule = TargetTrackingAutoscaler(1, 20, 10.0, stabilization_down=0.0, max_step=20,
                                    scale_down_max_utilization=0.8)
    assert rule.decide(0.0, seen(18, 95.0, 10.0)) == 12
    assert rule.decide(5.0, seen(12, 95.0, 10.0)) == 12
    assert rule.decide(10.0, seen(12, 0.0, 10.0)) == 1  # the load has gone: down it goes


# -- knob, validation, live route ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["0", "-0.5", "1.5", '"high"'])
def test_bad_values_name_the_field(bad: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_toml.loads(f'[pool]\nstrategy = "dynamic"\nscale_down_max_utilization = {bad}\n')
    assert any("pool.scale_down_max_utilization" in str(e) for e in info.value.errors)
    with pytest.raises(ValueError, match="scale_down_max_utilization"):
        make_autoscaler("threshold", min_workers=1, max_workers=2, scale_up_threshold=5,
                        scale_down_threshold=1, scale_down_max_utilization=0.0)


def test_the_scenario_knob_reaches_both_autoscalers_and_changes_live() -> None:
    for kind in ("threshold", "target"):
        s = scenario_toml.loads(f'[pool]\nstrategy = "dynamic"\nautoscaler = "{kind}"\n'
                                "scale_down_max_utilization = 0.7\n")
        assert autoscaler_for(s).knobs()["scale_down_max_utilization"] == 0.7
        rule = autoscaler_for(s)
        rule.reconfigure(scale_down_max_utilization=0.9)
        assert rule.knobs()["scale_down_max_utilization"] == 0.9
    assert route("pool.scale_down_max_utilization", "dynamic") is Route.AUTOSCALER_KNOBS


# -- what the engines measure --------------------------------------------------------------


def test_recent_rates_cover_the_last_window_of_closed_frames() -> None:
    r = MetricsRecorder(1.0)
    assert r.recent_rates() == (None, None)  # no frame closed yet
    for second in range(1, 121):
        t0 = float(second - 1)
        load = 2 if second <= 60 else 5  # the load rises after a minute
        for k in range(load):
            r.arrived(t0 + 0.1 * k)
        r.finished(t0 + 0.5, 0.25, True)  # one attempt a second, 0.25 s of work
        r.close_frame(float(second), depth=0, in_flight=0, retrying=0, dead_letters=0,
                      created=0, done=0)
        if second == 30:
            assert r.recent_rates() == (2.0, 4.0)  # early: all the frames so far
    lam, mu = r.recent_rates()
    assert lam == 5.0  # only the last RATE_WINDOW seconds: the new load
    assert mu == 4.0  # attempts per busy worker-second: 1 / 0.25
    assert RATE_WINDOW == 60.0
