"""Running a sweep: points × seeds through an executor, results in the sweep's order.

`run_sweep` yields one `RunRecord` per point × seed as runs finish. A run that finishes
ahead of an earlier one waits (at most the executor's window) so that records always come
in the sweep's order - point by point, seed by seed - whichever executor ran them and in
whatever order they finished: that is what makes runs.csv the same bytes locally and on a
cluster. Common random numbers: every point runs the same seeds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from queuelab.tuning.executors import Executor, LocalPool, Runner
from queuelab.tuning.points import Point, apply, planned_points, why_invalid, with_seed
from queuelab.tuning.runner import FIGURES, RunTask, run_point
from queuelab.tuning.spec import Sweep
from queuelab.tuning.stats import PointStats, point_stats

STATUSES = ("ok", "invalid", "failed")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One point × seed: ok with its figures, invalid (skipped, with why) or failed (why)."""

    point: int
    seed: int
    values: tuple[Any, ...]
    status: str
    reason: str
    figures: Mapping[str, Any]


def run_sweep(sweep: Sweep, executor: Executor | None = None, *,
              done: Mapping[tuple[int, int], RunRecord] | None = None,
              runner: Runner = run_point) -> Iterator[RunRecord]:
    """Every run of the sweep, in the sweep's order, as they finish.

    `done` holds records of an earlier, interrupted attempt (keyed by point and seed):
    finished and invalid ones are handed back without running again, failed ones rerun.
    Without an executor, a local pool over every core runs it. Closing the generator
    (or Ctrl-C) stops the executor; the records yielded so far are complete.
    """
    own = executor is None
    pool: Executor = LocalPool() if executor is None else executor
    kept = {k: r for k, r in (done or {}).items() if r.status in ("ok", "invalid")}
    if own:
        with pool:
            yield from _run(sweep, pool, kept, runner)
    else:
        yield from _run(sweep, pool, kept, runner)


def _run(sweep: Sweep, pool: Executor, kept: Mapping[tuple[int, int], RunRecord],
         runner: Runner) -> Iterator[RunRecord]:
    if sweep.search.method == "optuna":
        from queuelab.tuning.optuna_search import generations

        for batch, tell in generations(sweep):
            records: list[RunRecord] = []
            for record in _run_points(sweep, batch, pool, kept, runner):
                records.append(record)
                yield record
            tell(points_of(sweep, records))
    else:
        yield from _run_points(sweep, planned_points(sweep), pool, kept, runner)


def _run_points(sweep: Sweep, points: Iterable[Point], pool: Executor,
                kept: Mapping[tuple[int, int], RunRecord], runner: Runner
                ) -> Iterator[RunRecord]:
    seeds = sweep.seeds
    order: deque[tuple[int, int]] = deque()  # keys not yet yielded, in the sweep's order
    ready: dict[tuple[int, int], RunRecord] = {}
    values_of: dict[int, tuple[Any, ...]] = {}

    def tasks() -> Iterator[RunTask]:
        for point in points:
            values_of[point.number] = point.values
            reason = why_invalid(sweep.scenario, sweep.paths, point.values)
            scenario = None if reason else apply(sweep.scenario, sweep.paths, point.values)
            for seed in seeds:
                key = (point.number, seed)
                order.append(key)
                if key in kept and kept[key].values == point.values:
                    ready[key] = kept[key]  # an earlier attempt's run of this very point
                elif scenario is None:
                    ready[key] = RunRecord(point.number, seed, point.values, "invalid",
                                           reason, {})
                else:
                    yield RunTask(point.number, seed, with_seed(scenario, seed),
                                  sweep.objective, sweep.cost)

    def flush() -> Iterator[RunRecord]:
        while order and order[0] in ready:
            record = ready.pop(order.popleft())
            if record.seed == seeds[-1]:
                values_of.pop(record.point, None)
            yield record

    for task, figures, reason in pool.run(tasks(), runner):
        key = (task.point, task.seed)
        values = values_of[task.point]
        ready[key] = (RunRecord(task.point, task.seed, values, "ok", "", figures)
                      if figures is not None
                      else RunRecord(task.point, task.seed, values, "failed", reason, {}))
        yield from flush()
    yield from flush()  # the tail that needed no run (invalid or kept)


def points_of(sweep: Sweep, records: Iterable[RunRecord]) -> list[PointStats]:
    """Group records (in the sweep's order) into each point's statistics."""
    return list(iter_points(sweep, records))


def iter_points(sweep: Sweep, records: Iterable[RunRecord]) -> Iterator[PointStats]:
    """Each point's statistics as soon as its last replication is in (records in order)."""
    group: list[RunRecord] = []
    for record in records:
        if group and group[0].point != record.point:
            yield point_stats(group[0].point, group[0].values, group, FIGURES)
            group = []
        group.append(record)
        if len(group) == sweep.replications:
            yield point_stats(record.point, record.values, group, FIGURES)
            group = []
    if group:
        yield point_stats(group[0].point, group[0].values, group, FIGURES)


__all__ = ["RunRecord", "iter_points", "points_of", "run_sweep"]
