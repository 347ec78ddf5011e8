"""The one function a sweep ships to its workers: simulate one point with one seed.

It is all QueueLab puts on a worker, local process or Dask: a `RunTask` in (the point's
scenario with the seed set, the objective and the cost model), the run's figures out as a
plain dict. Every figure comes from the simulator's own `RunSummary` (warm-up excluded);
only the objective's violation share is counted here, over the frames after the warm-up,
because it depends on the sweep's objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from queuelab.core.scenario import Scenario
from queuelab.tuning.spec import CostModel, Objective

#: the measured figures of one run, in runs.csv column order
FIGURES = ("cost", "worker_hours", "worker_starts", "wait_p50", "wait_p95", "wait_p99",
           "mean_wait", "slo_violation_share", "dead_lettered", "utilization", "mean_workers",
           "peak_workers", "scale_events", "arrived", "completed")
#: the frame column that measures each objective over one sample interval
FRAME_STATISTIC = {"wait_p95": "wait_p95", "wait_p99": "wait_p99"}
CHUNK_FRAMES = 10_000  # frames simulated (and counted) per slice, well under the engine's buffer


@dataclass(frozen=True, slots=True)
class RunTask:
    """One point × seed: what a worker needs and nothing else."""

    point: int
    seed: int
    scenario: Scenario  # the point's knobs and the seed already applied
    objective: Objective
    cost: CostModel


def run_point(task: RunTask) -> dict[str, Any]:
    """Simulate the task's scenario to its end; its figures (NaN where nothing was measured)."""
    from queuelab.sim.engine import SimEngine  # imported in the worker, not by the planner

    s = task.scenario
    engine = SimEngine(s)
    engine.start()
    statistic = FRAME_STATISTIC.get(task.objective.metric)
    frames = violations = 0
    step = s.run.sample_interval * CHUNK_FRAMES
    t = 0.0
    while engine.state.value != "finished":
        t = min(t + step, s.run.duration)
        engine.run_until(t)
        for frame in engine.take_frames():
            if frame.t <= s.run.warmup:
                continue
            frames += 1
            if statistic is not None and getattr(frame, statistic) > task.objective.limit:
                violations += 1  # a NaN (nobody started) is no violation
    engine.totals().check()
    m = engine.summary()
    share = violations / frames if statistic is not None and frames else math.nan
    return {
        "cost": task.cost.cost(m.worker_seconds, m.worker_starts),
        "worker_hours": m.worker_seconds / 3600.0,
        "worker_starts": m.worker_starts,
        "wait_p50": m.wait_p50,
        "wait_p95": m.wait_p95,
        "wait_p99": m.wait_p99,
        "mean_wait": m.mean_wait,
        "slo_violation_share": share,
        "dead_lettered": m.dead_lettered,
        "utilization": m.utilization,
        "mean_workers": m.mean_workers,
        "peak_workers": m.peak_workers,
        "scale_events": m.scale_events,
        "arrived": m.arrived,
        "completed": m.completed,
    }
