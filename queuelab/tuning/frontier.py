"""The cost/wait frontier: the points no other point beats on both, by the intervals.

Point a dominates point b when a's mean cost and mean objective are both no higher than
b's, and on at least one of the two a is surely lower (its 95 % interval lies wholly
below b's). The frontier is every measured point that nothing dominates. A point whose
advantage the replications cannot tell from noise therefore stays on the frontier: it is
removed only on evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from queuelab.tuning.stats import PointStats, meets, surely_lower


def dominates(a: PointStats, b: PointStats, metric: str) -> bool:
    """Whether a beats b as the frontier means it (see the module's docstring)."""
    ca, cb, wa, wb = a.get("cost"), b.get("cost"), a.get(metric), b.get(metric)
    if min(ca.n, cb.n, wa.n, wb.n) == 0:
        return False
    return (ca.mean <= cb.mean and wa.mean <= wb.mean
            and (surely_lower(ca, cb) or surely_lower(wa, wb)))


def frontier(points: Sequence[PointStats], metric: str = "wait_p95") -> list[PointStats]:
    """The undominated measured points, cheapest first (ties by the objective, then number)."""
    measured = [p for p in points if p.runs > 0 and p.get("cost").n and p.get(metric).n]
    if not measured:
        return []
    cost = np.array([[p.get("cost").mean, p.get("cost").low, p.get("cost").high]
                     for p in measured])
    wait = np.array([[p.get(metric).mean, p.get(metric).low, p.get(metric).high]
                     for p in measured])
    keep: list[PointStats] = []
    for i, p in enumerate(measured):
        no_worse = (cost[:, 0] <= cost[i, 0]) & (wait[:, 0] <= wait[i, 0])
        surely = (cost[:, 2] < cost[i, 1]) | (wait[:, 2] < wait[i, 1])
        if not np.any(no_worse & surely):
            keep.append(p)
    keep.sort(key=lambda p: (p.get("cost").mean, p.get(metric).mean, p.number))
    return keep


def cheapest_meeting(points: Sequence[PointStats], metric: str, limit: float
                     ) -> tuple[PointStats | None, str, list[PointStats]]:
    """The cheapest point meeting the objective with 95 % confidence, else on its mean.

    Returns (the point or None, 'yes' or 'mean', the other qualifying points whose cost
    the intervals cannot tell from the chosen one's).
    """
    for level in ("yes", "mean"):
        able = [p for p in points if p.runs > 0 and meets(p, metric, limit) == level]
        if able:
            best = min(able, key=lambda p: (p.get("cost").mean, p.number))
            ties = [p for p in able if p is not best
                    and not surely_lower(best.get("cost"), p.get("cost"))]
            return best, level, ties
    return None, "", []
