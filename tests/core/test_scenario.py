"""Scenario knobs, validation and the TOML codec: every refusal names its path and reason."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core import scenario_toml
from queuelab.core.scenario import KNOBS, SECTIONS, Scenario
from queuelab.core.urls import redact_url, strip_password
from queuelab.core.validation import ParamChange, ScenarioError, from_dict, with_change


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_toml.loads(text)
    return [str(e) for e in info.value.errors]


def test_every_knob_is_described_once_with_label_help_and_a_valid_default() -> None:
    assert len(KNOBS) > 50
    for path, info in KNOBS.items():
        assert info.knob.label and info.knob.help.endswith("."), path
        assert info.knob.check(info.default, info.kind if info.kind is not tuple else float) \
            is None or info.kind is tuple, path
        assert path.split(".")[0] in SECTIONS


def test_default_scenario_round_trips_through_toml() -> None:
    text = scenario_toml.dumps(Scenario())
    assert scenario_toml.loads(text) == Scenario()
    assert "# Rate [tasks/s]: Mean arrivals per second" in text


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(0.01, 1e4), workers=st.integers(1, 50), seed=st.integers(0, 2**31),
       weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=5).filter(lambda w: sum(w) > 0),
       name=st.text(max_size=30))
def test_any_valid_scenario_round_trips(rate: float, workers: int, seed: int,
                                        weights: list[float], name: str) -> None:
    s = Scenario(name=name)
    s = replace(s, arrivals=replace(s.arrivals, rate=rate), run=replace(s.run, seed=seed),
                pool=replace(s.pool, workers=workers),
                priorities=replace(s.priorities, weights=tuple(weights)))
    assert scenario_toml.loads(scenario_toml.dumps(s)) == s
    assert scenario_toml.loads(scenario_toml.dumps(s, comments=False, all_knobs=False)) == s


@pytest.mark.parametrize(("text", "expected"), [
    ("[arrivals]\nrate = -1\n", "arrivals.rate: must be >= 0 (got -1)"),
    ("[pool]\nmin_workers = 2\nmax_workers = 1\n",
     "pool.max_workers: must be >= pool.min_workers (1 < 2)"),
    ("[pool]\nwrokers = 3\n", "pool.wrokers: unknown key (known in [pool]: strategy, workers"),
    ("[poool]\n", "poool: unknown section or key"),
    ("[pool]\nworkers = \"four\"\n", "pool.workers: must be a whole number (got 'four')"),
    ("[pool]\nworkers = 2.5\n", "pool.workers: must be a whole number (got 2.5)"),
    ("[priorities]\nweights = [0, 0]\n",
     "priorities.weights: must hold at least one weight and sum to a positive number"),
    ("[priorities]\nweights = [1, -1]\n", "priorities.weights[1]: must be >= 0 (got -1"),
    ("[arrivals]\nprocess = \"random\"\n",
     "arrivals.process: must be one of constant | poisson"),
    ("[run]\nduration = 10\nwarmup = 20\n", "run.warmup: must be < run.duration (20 >= 10)"),
    ("[service]\ndistribution = \"pareto\"\nshape = 1\n",
     "service.shape: must be > 1 (got 1"),
    ("[arrivals]\nprocess = \"trace\"\n", "arrivals.trace: names no trace"),
    ("format = 2\n", "format: unsupported format 2"),
    ("[run\n", "file: not valid TOML"),
    ("[breaker]\nfailure_threshold = 0\n", "breaker.failure_threshold: must be >= 1 (got 0)"),
    ("[failures]\nprobability = 1.5\n", "failures.probability: must be <= 1 (got 1.5)"),
    ("[run]\nduration = inf\n", "run.duration: must be a finite number"),
])
def test_invalid_values_are_refused_with_path_and_reason(text: str, expected: str) -> None:
    assert any(e.startswith(expected) for e in errors_of(text)), errors_of(text)


def test_all_problems_are_reported_at_once() -> None:
    errs = errors_of("[arrivals]\nrate = -1\n[pool]\nfoo = 1\nmax_workers = 0\n")
    assert len(errs) >= 3


def test_a_breaker_section_turns_the_breaker_on() -> None:
    assert scenario_toml.loads("[breaker]\nfailure_threshold = 4\n").breaker.enabled
    assert not scenario_toml.loads("").breaker.enabled
    assert not scenario_toml.loads("[breaker]\nenabled = false\n").breaker.enabled


def test_with_change_validates_like_a_file() -> None:
    s = Scenario()
    assert with_change(s, ParamChange("pool.workers", 9)).pool.workers == 9
    assert with_change(s, ParamChange("arrivals.rate", 5)).arrivals.rate == 5.0
    with pytest.raises(ScenarioError, match=r"arrivals\.rate: must be >= 0"):
        with_change(s, ParamChange("arrivals.rate", -2))
    with pytest.raises(ScenarioError, match=r"queue\.backend: cannot change while a run"):
        with_change(s, ParamChange("queue.backend", "redis://x"), running=True)
    with pytest.raises(ScenarioError, match=r"nope\.x: unknown section"):
        with_change(s, ParamChange("nope.x", 1))


def test_passwords_never_reach_a_saved_file() -> None:
    url = "postgresql://alice:s3cret@db.example:5432/jobs"
    s = replace(Scenario(), queue=replace(Scenario().queue, backend=url))
    text = scenario_toml.dumps(s)
    assert "s3cret" not in text
    assert "postgresql://alice@db.example:5432/jobs" in text
    assert redact_url(url) == "postgresql://alice:***@db.example:5432/jobs"
    assert strip_password("redis://:pw@localhost:6379/0") == "redis://localhost:6379/0"
    assert redact_url("memory://") == "memory://"


def test_credential_options_never_reach_a_saved_file() -> None:
    """Before, `?password=` (documented for redis://) was saved as typed."""
    url = "redis://127.0.0.1:6379/0?queue=jobs&password=s3cret&token=t0k"
    s = replace(Scenario(), queue=replace(Scenario().queue, backend=url))
    text = scenario_toml.dumps(s)
    assert "s3cret" not in text and "t0k" not in text
    assert "redis://127.0.0.1:6379/0?queue=jobs" in text


def test_from_dict_refuses_non_tables() -> None:
    with pytest.raises(ScenarioError, match="run: must be a table"):
        from_dict({"run": 3})
