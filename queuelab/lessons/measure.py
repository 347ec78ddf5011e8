"""Reading a finished run for a lesson's checks: figures, frame statistics, pass or fail.

A `RunResult` is what any engine left behind: its summary, its books and every frame (as
columns). The headless runner (`lessons.headless`) and the window's lesson pane both build
one and call `evaluate`, so a check reads the same number in both places.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from queuelab.core.engine import Totals
from queuelab.core.metrics import FRAME_COLUMNS, RunSummary
from queuelab.lessons.model import LEVEL_FIGURE, Check, Quantity


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: its summary (after warm-up), its books, and its frames by column."""

    summary: RunSummary
    books: Totals
    columns: dict[str, list[float]]

    @classmethod
    def from_rows(cls, summary: RunSummary, books: Totals,
                  rows: Iterable[Sequence[float]]) -> RunResult:
        """From frames as rows in FRAME_COLUMNS order (MetricsFrames, or the window's)."""
        columns: dict[str, list[float]] = {name: [] for name in FRAME_COLUMNS}
        appends = [columns[name].append for name in FRAME_COLUMNS]
        for row in rows:
            for append, value in zip(appends, row, strict=True):
                append(float(value))
        return cls(summary=summary, books=books, columns=columns)

    def figure(self, name: str) -> float:
        """A named figure of the run (`lessons.model.FIGURES`); NaN when it has none."""
        s = self.summary
        if name.startswith("books."):
            return float(getattr(self.books, name.removeprefix("books.")))
        if name == "arrival_rate":
            return s.arrived / s.duration if s.duration > 0 else math.nan
        if name == "admitted_rate":
            return self._admitted() / s.duration if s.duration > 0 else math.nan
        if name == "lambda_w":
            return self.figure("admitted_rate") * s.mean_wait
        if name in {f.name for f in fields(RunSummary)}:
            return float(getattr(s, name))
        if name.startswith(LEVEL_FIGURE):
            levels = s.extras.get("wait_by_level")
            k = int(name.removeprefix(LEVEL_FIGURE))
            if isinstance(levels, list | tuple) and k < len(levels):
                return float(levels[k])
            return math.nan
        value = s.extras.get(name)
        return float(value) if isinstance(value, int | float) else math.nan

    def _admitted(self) -> float:
        """Arrivals in the measured window less those rejected in it (max_length)."""
        t, rejected = self.columns["t"], self.columns["rejected"]
        if not t:
            return float(self.summary.arrived)
        before = [r for ts, r in zip(t, rejected, strict=True) if ts <= self.summary.start]
        turned_away = rejected[-1] - (before[-1] if before else 0.0)
        return self.summary.arrived - turned_away

    def stat(self, q: Quantity) -> float:
        """A statistic of a frame column over the frames ending in (q.start, q.end]."""
        t = self.columns["t"]
        values = [v for ts, v in zip(t, self.columns[q.column], strict=True)
                  if q.start < ts <= q.end and not math.isnan(v)]
        if not values:
            return math.nan
        if q.stat == "mean":
            return math.fsum(values) / len(values)
        if q.stat == "min":
            return min(values)
        if q.stat == "max":
            return max(values)
        if q.stat == "first":
            return values[0]
        if q.stat == "last":
            return values[-1]
        if q.stat == "changes":
            return float(sum(1 for a, b in itertools.pairwise(values) if a != b))
        times = [ts for ts, v in zip(t, self.columns[q.column], strict=True)
                 if q.start < ts <= q.end and not math.isnan(v)]
        if q.stat == "seconds_above":
            step = _interval(times)
            return step * sum(1 for v in values if v > q.threshold)
        if q.stat == "until_below":
            for ts, v in zip(times, values, strict=True):
                if v <= q.threshold:
                    return ts - q.start
            return math.inf
        raise ValueError(f"unknown statistic {q.stat!r}")  # the model refuses it first

    def quantity(self, q: Quantity) -> float:
        return self.figure(q.figure) if q.figure else self.stat(q)


def _interval(times: list[float]) -> float:
    """The frames' spacing (the sample interval): every frame stands for that long."""
    if len(times) < 2:
        return 0.0
    return (times[-1] - times[0]) / (len(times) - 1)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    measured: float  # value / per; NaN when the run has nothing to measure it by
    passed: bool

    def text(self) -> str:
        """`label: measured 0.912 s (want 0.8 to 1.0 s)`."""
        c = self.check
        unit = f" {c.unit}" if c.unit else ""
        return f"{c.label}: measured {fmt(self.measured)}{unit} (want {wanted(c)}{unit})"


def fmt(x: float) -> str:
    """A measured number as a person reads it: 3 significant digits, thousands grouped."""
    if math.isnan(x):
        return "nothing to measure"
    if math.isinf(x):
        return "never" if x > 0 else "-inf"
    if x != 0 and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def wanted(c: Check) -> str:
    if math.isinf(c.minimum):
        return f"at most {c.maximum:g}"
    if math.isinf(c.maximum):
        return f"at least {c.minimum:g}"
    return f"{c.minimum:g} to {c.maximum:g}"


def evaluate(check: Check, run: RunResult) -> CheckResult:
    """Measure a check's value on a run and say whether it is within its range."""
    value = run.quantity(check.value)
    if check.per is not None:
        per = run.quantity(check.per)
        value = value / per if per and math.isfinite(per) else math.nan
    passed = not math.isnan(value) and check.minimum <= value <= check.maximum
    return CheckResult(check=check, measured=value, passed=passed)
