"""One validation style (core/checks.py): a knob refused by the scenario reader and by a
policy or model built directly reads the same."""

from __future__ import annotations

import math

import pytest

from queuelab.core.checks import integer, known, number
from queuelab.core.knobs import Knob
from queuelab.core.policies import RetryPolicy
from queuelab.core.scenario import KNOBS
from queuelab.core.validation import ScenarioError, from_dict


@pytest.mark.parametrize("value", [-1.0, 0.0, 0.5, 2.0, 1e9, math.inf, math.nan])
def test_a_knob_and_a_direct_check_give_the_same_reason(value: float) -> None:
    knob = Knob("x", "x", minimum=0.0, exclusive_minimum=True, maximum=1e6)
    said = knob.check(value, float)
    try:
        number("x", value, above=0.0, maximum=1e6)
    except ValueError as exc:
        assert str(exc) == f"x: {said}"
    else:
        assert said is None


def test_the_scenario_and_the_policy_refuse_alike() -> None:
    assert KNOBS["retry.multiplier"].knob.minimum == 1.0
    with pytest.raises(ScenarioError) as from_file:
        from_dict({"retry": {"multiplier": 0.5}})
    with pytest.raises(ValueError) as direct:
        RetryPolicy(max_attempts=3, base_delay=1.0, multiplier=0.5)
    assert str(from_file.value) == "retry." + str(direct.value)


def test_integers_and_names() -> None:
    assert integer("n", 3, minimum=1) == 3
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match=r"^n: must be a whole number \(got "):
            integer("n", bad)
    with pytest.raises(ValueError, match=r"^n: must be >= 1 \(got 0\)$"):
        integer("n", 0, minimum=1)
    with pytest.raises(ValueError, match=r"^speed: not a knob of the pool \(known: a, b\)$"):
        known("pool", {"speed": 1}, ("a", "b"))
