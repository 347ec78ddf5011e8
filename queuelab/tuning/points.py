"""Points of a sweep: which knob values each one sets, and the scenario a run of it uses.

A point is identified by its number in the sweep's order and carries its knob values in
axis order. The grid enumerates every combination (the last axis varying fastest); the
random search draws `budget` distinct combinations by their index, so a grid of millions
is never materialised. Both orders are fixed by the sweep alone, which is what makes a
resumed sweep run the same points.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from queuelab.core.scenario import Scenario, split_path
from queuelab.core.validation import ScenarioError, validate
from queuelab.tuning.axes import Axis
from queuelab.tuning.spec import Sweep


@dataclass(frozen=True, slots=True)
class Point:
    """One combination of axis values; `number` is its place in the sweep (from 0)."""

    number: int
    values: tuple[Any, ...]


def combination(axes: Sequence[Axis], index: int) -> tuple[Any, ...]:
    """The grid's `index`-th combination, the last axis varying fastest."""
    out: list[Any] = []
    for axis in reversed(axes):
        index, at = divmod(index, len(axis.values))
        out.append(axis.values[at])
    return tuple(reversed(out))


def planned_points(sweep: Sweep) -> Iterator[Point]:
    """The points of a grid or random search, in the sweep's order (lazily)."""
    size = sweep.grid_size
    if sweep.search.method == "random":
        chosen = random.Random(sweep.search.seed).sample(range(size), sweep.search.budget)
        indices: Sequence[int] = chosen
    else:
        indices = range(size)
    for number, index in enumerate(indices):
        yield Point(number, combination(sweep.axes, index))


def apply(base: Scenario, paths: Sequence[str], values: Sequence[Any]) -> Scenario:
    """The base scenario with the point's knobs set, validated (ScenarioError if not valid).

    The values were checked one by one when the axes were read; what can still fail here
    is a rule tying knobs together (min workers above max workers, say).
    """
    sections: dict[str, dict[str, Any]] = {}
    for path, value in zip(paths, values, strict=True):
        section, name = split_path(path)
        sections.setdefault(section, {})[name] = value
    changed = replace(base, **{section: replace(getattr(base, section), **knobs)
                               for section, knobs in sections.items()})
    return validate(changed)


def with_seed(scenario: Scenario, seed: int) -> Scenario:
    return replace(scenario, run=replace(scenario.run, seed=seed))


def why_invalid(base: Scenario, paths: Sequence[str], values: Sequence[Any]) -> str:
    """'' when the point makes a valid scenario, else every reason in one line."""
    try:
        apply(base, paths, values)
    except ScenarioError as exc:
        return "; ".join(str(e) for e in exc.errors)
    return ""
