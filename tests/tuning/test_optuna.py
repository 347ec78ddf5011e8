"""The NSGA-II search (Optuna): budgeted, over the sweep's own axis values, deterministic."""

from __future__ import annotations

import pytest

from queuelab.tuning import LocalPool, frontier, points_of, run_sweep
from queuelab.tuning.files import loads_sweep

from .helpers import small_text

pytest.importorskip("optuna")


def test_nsga2_runs_its_budget_over_the_axes_the_same_way_twice() -> None:
    text = small_text(2).replace('"retry.jitter" = ["full", "equal"]',
                                 '"retry.max_attempts" = { range = [1, 6, 1] }')
    text += '\n[search]\nmethod = "optuna"\nbudget = 10\npopulation = 4\nseed = 5\n'
    sweep = loads_sweep(text)
    with LocalPool(2) as pool:
        first = list(run_sweep(sweep, pool))
        second = list(run_sweep(sweep, pool))
    assert [(r.point, r.seed) for r in first] == [(p, s) for p in range(10) for s in (11, 12)]
    allowed = [set(a.values) for a in sweep.axes]
    assert all(all(v in ok for v, ok in zip(r.values, allowed, strict=True)) for r in first)
    assert first == second  # the same points, the same figures
    points = points_of(sweep, first)
    assert frontier(points, "wait_p95")
