"""Across replications: a point's means with t-based 95 % intervals, and what they allow.

Each replication is one independent run (its own seed, warm-up excluded), so the figures of
a point's runs are independent samples and Student's t gives the interval of their mean.
A point is declared better than another only when the intervals say so: "surely lower"
means the two intervals do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from queuelab.core.stats import t975

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean over replications and its 95 % half-width (NaN with fewer than two values)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width if self.half_width == self.half_width else self.mean

    @property
    def high(self) -> float:
        return self.mean + self.half_width if self.half_width == self.half_width else self.mean


def estimate(values: Iterable[float]) -> Estimate:
    """Mean and t-based 95 % half-width of the finite values (NaN ones are left out)."""
    xs = [float(v) for v in values if v == v and not math.isinf(v)]
    n = len(xs)
    if n == 0:
        return Estimate(NAN, NAN, 0)
    mean = math.fsum(xs) / n
    if n < 2:
        return Estimate(mean, NAN, 1)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    return Estimate(mean, t975(n - 1) * math.sqrt(var / n), n)


def surely_lower(a: Estimate, b: Estimate) -> bool:
    """a's interval lies wholly below b's: a is lower, and the replications say so.

    With no interval (a single replication) the means decide, as a plain comparison would.
    """
    if a.n == 0 or b.n == 0:
        return False
    return a.high < b.low


@dataclass(frozen=True, slots=True)
class PointStats:
    """One point after its replications: status, knob values, and every figure's estimate."""

    number: int
    values: tuple[Any, ...]
    status: str  # ok | invalid | failed (some run failed: the estimates use the others)
    reason: str
    runs: int  # replications that finished
    figures: dict[str, Estimate]

    def get(self, figure: str) -> Estimate:
        return self.figures.get(figure, Estimate(NAN, NAN, 0))


def point_stats(number: int, values: tuple[Any, ...], runs: Sequence[Any],
                figures: Sequence[str]) -> PointStats:
    """Aggregate a point's `RunRecord`s (any order) into its PointStats."""
    ok = [r for r in runs if r.status == "ok"]
    bad = [r for r in runs if r.status != "ok"]
    if bad and not ok:
        status, reason = bad[0].status, bad[0].reason
    elif bad:
        status, reason = "failed", f"{len(bad)} of {len(runs)} runs failed: {bad[0].reason}"
    else:
        status, reason = "ok", ""
    return PointStats(number, values, status, reason, len(ok),
                      {f: estimate(r.figures[f] for r in ok) for f in figures})


def meets(point: PointStats, metric: str, limit: float) -> str:
    """'yes': the whole interval is within the limit; 'mean': only the mean is; else 'no'."""
    e = point.get(metric)
    if e.n == 0 or e.mean > limit:
        return "no"
    return "yes" if e.n > 1 and e.high <= limit else "mean"
