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
from typing import TYPE_CHECKING, Any

from queuelab.core.scenario import Scenario
from queuelab.tuning.spec import CostModel, Objective

if TYPE_CHECKING:
    from queuelab.core.metrics import RunSummary

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


class ViolationCounter:
    """Counts the frames after the warm-up whose statistic breaks the objective.

    The one rule for "SLO violations", used by a sweep's runs and by the window's runs
    alike: a frame counts when its per-frame statistic (p95 or p99 wait) is above the limit;
    a NaN frame (nobody started) is no violation. A mean-wait objective has no per-frame
    statistic, so its share is NaN.
    """

    __slots__ = ("frames", "limit", "statistic", "violations", "warmup")

    def __init__(self, objective: Objective, warmup: float) -> None:
        self.statistic = FRAME_STATISTIC.get(objective.metric)
        self.limit = objective.limit
        self.warmup = warmup
        self.frames = 0
        self.violations = 0

    def add(self, t: float, value: float) -> None:
        """One frame at time `t` whose per-frame statistic is `value`."""
        if t <= self.warmup:
            return
        self.frames += 1
        if value > self.limit:
            self.violations += 1

    def add_columns(self, t: Any, values: Any) -> None:
        """Frames given as two columns: their times and their per-frame statistic."""
        for ti, v in zip(t, values, strict=True):
            self.add(float(ti), float(v))

    def add_frames(self, frames: Any) -> None:
        """MetricsFrames (anything with `t` and the statistic's attribute)."""
        if self.statistic is None:
            return
        for frame in frames:
            self.add(frame.t, getattr(frame, self.statistic))

    @property
    def share(self) -> float:
        return self.violations / self.frames if self.statistic is not None and self.frames \
            else math.nan


def summary_figures(m: RunSummary, cost: CostModel, violation_share: float) -> dict[str, Any]:
    """One run's figures (FIGURES) from its summary: what a sweep records and the window
    compares; NaN where nothing was measured."""
    return {
        "cost": cost.cost(m.worker_seconds, m.worker_starts),
        "worker_hours": m.worker_seconds / 3600.0,
        "worker_starts": m.worker_starts,
        "wait_p50": m.wait_p50,
        "wait_p95": m.wait_p95,
        "wait_p99": m.wait_p99,
        "mean_wait": m.mean_wait,
        "slo_violation_share": violation_share,
        "dead_lettered": m.dead_lettered,
        "utilization": m.utilization,
        "mean_workers": m.mean_workers,
        "peak_workers": m.peak_workers,
        "scale_events": m.scale_events,
        "arrived": m.arrived,
        "completed": m.completed,
    }


def run_point(task: RunTask) -> dict[str, Any]:
    """Simulate the task's scenario to its end; its figures (NaN where nothing was measured)."""
    from queuelab.sim.engine import SimEngine  # imported in the worker, not by the planner

    s = task.scenario
    engine = SimEngine(s)
    engine.start()
    counter = ViolationCounter(task.objective, s.run.warmup)
    step = s.run.sample_interval * CHUNK_FRAMES
    t = 0.0
    while engine.state.value != "finished":
        t = min(t + step, s.run.duration)
        engine.run_until(t)
        counter.add_frames(engine.take_frames())
    engine.totals().check()
    return summary_figures(engine.summary(), task.cost, counter.share)
