"""The axes of a sweep: which knob varies, over which values.

An axis is written in a sweep file as a list of values, or as `range = [start, stop, step]`
(stop included when a step lands on it), `linspace = [start, stop, count]` (evenly spaced)
or `logspace = [start, stop, count]` (evenly spaced ratios, both ends > 0). Every value is
coerced and range-checked by the knob's own description (`core.validation.coerce`), so an
axis can never hold a value the scenario file itself would refuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from queuelab.core.scenario import KNOBS
from queuelab.core.validation import FieldError, ScenarioError, coerce

MAX_VALUES = 10_000  # values on one axis
SPACINGS = ("range", "linspace", "logspace")
# knobs a sweep may not vary: the seed is the replications' (common random numbers), the
# backend and the handler belong to live runs, which a sweep never makes
FIXED = frozenset({"run.seed", "queue.backend", "service.handler", "run.time_scale"})


@dataclass(frozen=True, slots=True)
class Axis:
    """One knob path and the values the sweep gives it, in order."""

    path: str
    values: tuple[Any, ...]


def axis_from(path: str, spec: Any, where: str) -> Axis:
    """An Axis from its file form, or ScenarioError naming `where` (the field's path)."""
    info = KNOBS.get(path)
    if info is None or not info.knob.in_file or path in FIXED:
        reason = ("cannot be swept (the seeds are the replications'; live-only knobs do "
                  "not apply to simulated sweeps)" if path in FIXED
                  else "unknown knob path (e.g. pool.max_workers, retry.jitter)")
        raise ScenarioError(FieldError(where, reason))
    if info.kind is tuple:
        raise ScenarioError(FieldError(where, "a list-valued knob cannot be an axis"))
    if isinstance(spec, dict):
        raw = _spaced(spec, where, integral=info.kind is int)
    elif isinstance(spec, list):
        raw = spec
    else:
        raise ScenarioError(FieldError(where, "must be a list of values or a table with "
                                       "one of range, linspace, logspace"))
    if not raw:
        raise ScenarioError(FieldError(where, "holds no values"))
    if len(raw) > MAX_VALUES:
        raise ScenarioError(FieldError(where, f"more than {MAX_VALUES:,} values"))
    errors: list[FieldError] = []
    values: list[Any] = []
    for i, v in enumerate(raw):
        try:
            value = coerce(info, v)
        except ScenarioError as exc:
            errors.extend(FieldError(f"{where}[{i}]", e.reason) for e in exc.errors)
            continue
        refused = info.knob.check(value, info.kind)
        if refused:
            errors.append(FieldError(f"{where}[{i}]", refused))
        elif value in values:
            errors.append(FieldError(f"{where}[{i}]", f"repeats the value {value!r}"))
        else:
            values.append(value)
    if errors:
        raise ScenarioError(errors)
    return Axis(path, tuple(values))


def _spaced(spec: dict[str, Any], where: str, *, integral: bool) -> list[Any]:
    kinds = [k for k in spec if k in SPACINGS]
    unknown = [k for k in spec if k not in SPACINGS]
    if unknown or len(kinds) != 1:
        raise ScenarioError(FieldError(where, "a table axis holds exactly one of range, "
                                       "linspace, logspace (e.g. linspace = [5, 100, 20])"))
    kind = kinds[0]
    at = f"{where}.{kind}"
    args = spec[kind]
    if (not isinstance(args, list) or len(args) != 3
            or any(isinstance(a, bool) or not isinstance(a, int | float) for a in args)
            or not all(math.isfinite(a) for a in args)):
        raise ScenarioError(FieldError(at, "must be three finite numbers "
                                       f"[start, stop, {'step' if kind == 'range' else 'count'}]"))
    start, stop, third = (float(a) for a in args)
    if kind == "range":
        if third <= 0:
            raise ScenarioError(FieldError(at, f"step must be > 0 (got {third:g})"))
        if stop < start:
            raise ScenarioError(FieldError(at, f"stop must be >= start ({stop:g} < {start:g})"))
        count = math.floor((stop - start) / third * (1 + 1e-12)) + 1
        if count > MAX_VALUES:
            raise ScenarioError(FieldError(at, f"more than {MAX_VALUES:,} values"))
        values = [start + i * third for i in range(count)]
    else:
        if third != int(third) or not 1 <= third <= MAX_VALUES:
            raise ScenarioError(FieldError(at, f"count must be a whole number in 1..{MAX_VALUES:,}"
                                           f" (got {third:g})"))
        n = int(third)
        if kind == "logspace":
            if start <= 0 or stop <= 0:
                raise ScenarioError(FieldError(at, "start and stop must be > 0 on a log scale"))
            lo, hi = math.log(start), math.log(stop)
            values = [math.exp(lo + (hi - lo) * i / (n - 1)) if n > 1 else start
                      for i in range(n)]
            values[0], values[-1] = start, (stop if n > 1 else start)
        else:
            values = [start + (stop - start) * i / (n - 1) if n > 1 else start
                      for i in range(n)]
    # a readable value: 12 significant digits drop the float noise of the spacing
    tidy = [float(f"{v:.12g}") for v in values]
    if integral:
        rounded: list[Any] = []
        for v in tidy:
            r = round(v)
            if r not in rounded:
                rounded.append(r)
        return rounded
    return tidy
