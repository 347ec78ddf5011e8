"""Bounds a real system could have and a run's budget (core.limits, core.budget): a knob out
of bounds, a distribution that overflows or has no mean, or a run that would produce more
than the budget is refused before it starts, naming the knob, the reason and the figure."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core import limits
from queuelab.core.scenario import KNOBS, ArrivalsConfig, RunConfig, Scenario, ServiceConfig
from queuelab.core.service import LognormalService, ParetoService
from queuelab.core.validation import ParamChange, ScenarioError, validate, with_change

NUMERIC = [i for i in KNOBS.values() if i.kind in (int, float, tuple)]


def test_every_numeric_knob_declares_both_bounds() -> None:
    unbounded = [i.path for i in NUMERIC if i.knob.minimum is None or i.knob.maximum is None]
    assert unbounded == []


@settings(max_examples=150, deadline=None)
@given(info=st.sampled_from([i for i in NUMERIC if i.kind is not tuple]),
       factor=st.floats(1.0001, 1e300))
def test_a_value_above_any_bound_is_refused_by_path(info: object, factor: float) -> None:
    from queuelab.core.scenario import KnobInfo

    assert isinstance(info, KnobInfo) and info.knob.maximum is not None
    value: float = min(info.knob.maximum * factor + 1, 1e300)
    if info.kind is int:
        value = int(min(value, 1e30))
    with pytest.raises(ScenarioError) as caught:
        with_change(Scenario(), ParamChange(info.path, value))
    assert any(e.path == info.path and "must be <=" in e.reason for e in caught.value.errors)


@settings(max_examples=100, deadline=None)
@given(info=st.sampled_from([i for i in NUMERIC if i.knob.tick is not None
                             and i.kind is float]),
       tiny=st.floats(5e-324, limits.TICK, exclude_max=True))
def test_a_denormal_time_is_refused(info: object, tiny: float) -> None:
    from queuelab.core.scenario import KnobInfo

    assert isinstance(info, KnobInfo)
    with pytest.raises(ScenarioError, match=rf"{info.path}: must be (0 or )?>"):
        with_change(Scenario(), ParamChange(info.path, tiny))


def test_the_issues_examples() -> None:
    with pytest.raises(ScenarioError, match=r"arrivals.rate: must be <= 1e\+06 \(got 1e\+308\)"):
        validate(replace(Scenario(), arrivals=ArrivalsConfig(rate=1e308)))
    with pytest.raises(ScenarioError, match=r"pool.check_interval: must be 0 or >= 0.001"):
        with_change(Scenario(), ParamChange("pool.check_interval", 1e-300))
    year = replace(Scenario(), run=RunConfig(duration=3e7, warmup=0, sample_interval=0.001))
    with pytest.raises(ScenarioError) as caught:
        validate(year)
    assert str(caught.value.errors[0]) == (
        "run.sample_interval: this run would write 3 x 10^10 frames (about 6 TB of "
        "frames.csv; at most 10^7): raise run.sample_interval or shorten run.duration")


@settings(max_examples=200, deadline=None)
@given(duration=st.floats(1.0, limits.MAX_SECONDS), interval=st.floats(0.001, 3600.0),
       rate=st.floats(0.1, limits.MAX_RATE))
def test_a_run_is_refused_exactly_when_over_budget(duration: float, interval: float,
                                                   rate: float) -> None:
    s = replace(Scenario(), run=RunConfig(duration=duration, warmup=0.0,
                                          sample_interval=interval),
                arrivals=ArrivalsConfig(rate=rate))
    frames, tasks = duration / interval, rate * duration
    try:
        validate(s)
    except ScenarioError as exc:
        paths = {e.path for e in exc.errors}
        assert paths <= {"run.sample_interval", "arrivals.rate", "run.duration"}
        assert frames > limits.MAX_FRAMES or tasks > limits.MAX_TASKS or "run.duration" in paths
        assert ("run.sample_interval" in paths) == (frames > limits.MAX_FRAMES)
        assert ("arrivals.rate" in paths) == (tasks > limits.MAX_TASKS)
    else:
        assert frames <= limits.MAX_FRAMES and tasks <= limits.MAX_TASKS


def test_distributions_that_overflow_or_have_no_mean_are_refused_with_the_reason() -> None:
    with pytest.raises(ScenarioError, match=r"service.sigma: must be <= 8 \(got 27\): a "
                       r"wider lognormal overflows"):
        with_change(replace(Scenario(), service=ServiceConfig(distribution="lognormal")),
                    ParamChange("service.sigma", 27.0))
    for shape in (1.0, 0.5):
        with pytest.raises(ScenarioError, match=r"service.shape: must be > 1 .*: a Pareto "
                           r"tail of shape 1 or less has no finite mean"):
            with_change(Scenario(), ParamChange("service.shape", shape))
    with pytest.raises(ValueError, match=r"^sigma: must be <= 8"):
        LognormalService(1.0, 27.0, random.Random(1))


@settings(max_examples=200, deadline=None)
@given(mean=st.floats(limits.TICK, limits.MAX_SECONDS),
       sigma=st.floats(0.0, limits.MAX_SIGMA, exclude_min=True),
       shape=st.floats(1.0, limits.MAX_PARETO_SHAPE, exclude_min=True),
       seed=st.integers(0, 2**32))
def test_in_range_distributions_have_finite_moments_and_draws(
        mean: float, sigma: float, shape: float, seed: int) -> None:
    rng = random.Random(seed)
    for model in (LognormalService(mean, sigma, rng), ParetoService(mean, shape, rng)):
        assert math.isfinite(model.mean) and model.scv >= 0
        draws = [model.draw() for _ in range(50)]
        assert all(math.isfinite(x) and x >= 0 for x in draws)
