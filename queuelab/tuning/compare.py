"""Runs side by side: each run's figures over its seeds, and which differences are real.

The window's Compare tab and anything else that sets runs beside a baseline read this (no
Qt). A run is one or more replications of one scenario (the same seeds for every run:
common random numbers); each figure is a mean with its Student-t 95 % interval over them
(`tuning.stats.estimate`). A difference to the baseline is *real* only when both runs have
intervals (two or more seeds) and the intervals do not overlap: one run against one run
says nothing about the dice, so it is shown but never called real.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from queuelab.tuning.stats import Estimate, estimate, surely_lower


@dataclass(frozen=True, slots=True)
class Compared:
    """One row of the comparison: a figure of `tuning.runner.FIGURES`, how it reads."""

    key: str
    label: str
    unit: str = ""  # "s", "%", … ("" for counts and money)
    factor: float = 1.0  # shown value = figure × factor (worker-hours → worker-seconds)
    lower_is_better: bool | None = True  # None: neither direction is better (utilization)
    digits: int = 3  # significant digits


COMPARED: tuple[Compared, ...] = (
    Compared("worker_hours", "cost, worker-seconds", "worker-s", factor=3600.0, digits=4),
    Compared("cost", "cost (cost model)", digits=4),
    Compared("mean_wait", "mean wait", "s"),
    Compared("wait_p50", "wait p50 (whole run)", "s"),
    Compared("wait_p95", "wait p95 (whole run)", "s"),
    Compared("wait_p99", "wait p99 (whole run)", "s"),
    Compared("slo_violation_share", "frames over the SLO", "%", factor=100.0),
    Compared("dead_lettered", "dead letters"),
    Compared("utilization", "utilization", "%", factor=100.0, lower_is_better=None),
    Compared("mean_workers", "mean workers", lower_is_better=None),
    Compared("peak_workers", "max workers", lower_is_better=None),
    Compared("scale_events", "scale events"),
)


def estimates(runs: Sequence[Mapping[str, Any]]) -> dict[str, Estimate]:
    """Every compared figure over a run's replications (a dict of figures per seed)."""
    return {c.key: estimate(float(r.get(c.key, math.nan)) for r in runs) for c in COMPARED}


@dataclass(frozen=True, slots=True)
class Difference:
    """A run's figure against the baseline's: the difference of the means, and whether the
    intervals say it is real; `better` is None when it is not real or has no direction."""

    delta: float
    relative: float  # delta / |baseline mean|; NaN when the baseline is 0 or unknown
    real: bool
    better: bool | None


def difference(base: Estimate, other: Estimate, lower_is_better: bool | None = True
               ) -> Difference:
    """`other` against `base` (see the module's docstring for when it is real)."""
    delta = other.mean - base.mean
    relative = delta / abs(base.mean) if base.mean and math.isfinite(base.mean) else math.nan
    with_intervals = base.n >= 2 and other.n >= 2 and math.isfinite(base.half_width) \
        and math.isfinite(other.half_width)
    real = with_intervals and (surely_lower(other, base) or surely_lower(base, other))
    better = None
    if real and lower_is_better is not None:
        better = (delta < 0) == lower_is_better
    return Difference(delta, relative, real, better)


def format_estimate(e: Estimate, c: Compared) -> str:
    """'1.23 ± 0.05 s' (the ± only with an interval); '–' for nothing measured."""
    if e.n == 0 or not math.isfinite(e.mean):
        return "–"
    mean = e.mean * c.factor
    text = _number(mean, c.digits)
    if e.n >= 2 and math.isfinite(e.half_width):
        text += f" ± {_number(e.half_width * c.factor, 2)}"
    unit = "" if c.unit in ("", "worker-s") else (c.unit if c.unit == "%" else f" {c.unit}")
    return text + unit


def format_difference(d: Difference, c: Compared) -> str:
    """'+12 %' (relative) or '+0.4 s' when the baseline is 0; '' when unknown."""
    if not math.isfinite(d.delta):
        return ""
    if math.isfinite(d.relative):
        return f"{d.relative * 100:+.0f} %"
    unit = "" if c.unit in ("", "worker-s", "%") else f" {c.unit}"
    return f"{_number(d.delta * c.factor, 2, sign=True)}{unit}"


def _number(x: float, digits: int, sign: bool = False) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:+,.0f}" if sign else f"{x:,.0f}"
    return f"{x:+.{digits}g}" if sign else f"{x:.{digits}g}"
