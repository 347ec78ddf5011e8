"""The frontier as a text table, and the sentence naming the cheapest point that qualifies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from queuelab.tuning.frontier import cheapest_meeting
from queuelab.tuning.spec import Sweep
from queuelab.tuning.stats import Estimate, PointStats, meets


def _knob(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _est(e: Estimate, digits: int = 3) -> str:
    if e.n == 0:
        return "n/a"
    if math.isnan(e.half_width):
        return f"{e.mean:.{digits}f}"
    return f"{e.mean:.{digits}f} ± {e.half_width:.{digits}f}"


def frontier_table(sweep: Sweep, points: Sequence[PointStats]) -> str:
    """A fixed-width table of frontier points, cheapest first."""
    metric, limit = sweep.objective.metric, sweep.objective.limit
    header = ["point", *sweep.paths, "cost (95 %)", f"{metric} s (95 %)", "meets"]
    rows = [[str(p.number), *(_knob(v) for v in p.values), _est(p.get("cost")),
             _est(p.get(metric)), meets(p, metric, limit)] for p in points]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def verdict(sweep: Sweep, points: Sequence[PointStats]) -> str:
    """Which point to choose, and how sure the replications make it."""
    metric, limit = sweep.objective.metric, sweep.objective.limit
    best, level, ties = cheapest_meeting(points, metric, limit)
    if best is None:
        return f"no point meets {metric} <= {limit:g} s, even on its mean"
    knobs = ", ".join(f"{p} = {_knob(v)}" for p, v in zip(sweep.paths, best.values, strict=True))
    e, c = best.get(metric), best.get("cost")
    if level == "yes":
        sure = (f"{metric} {_est(e)} s: below {limit:g} s with 95 % confidence "
                f"({best.runs} replications)")
    else:
        sure = (f"{metric} {_est(e)} s: below {limit:g} s on the mean only, not with 95 % "
                f"confidence (more replications would tell)")
    line = f"cheapest point meeting the objective: #{best.number} ({knobs}); cost {_est(c)}; {sure}"
    if ties:
        line += (f"\n  its cost cannot be told apart from {len(ties)} other qualifying "
                 f"point(s) by the intervals: " + ", ".join(f"#{p.number}" for p in ties[:8])
                 + (" …" if len(ties) > 8 else ""))
    return line
