"""Running sweeps on a local process pool: order, common random numbers, faults, resume."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.tuning import LocalPool, points_of, run_sweep
from queuelab.tuning.executors import DIED
from queuelab.tuning.points import apply, with_seed
from queuelab.tuning.runner import RunTask, run_point

from .helpers import (
    MARKER_ENV,
    all_valid_sweep,
    dies_on_point_2,
    dies_once_on_point_2,
    raises_on_point_3,
    small_sweep,
    small_text,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_runs_come_in_the_sweeps_order_with_invalid_points_skipped() -> None:
    sweep = small_sweep()
    with LocalPool(2) as pool:
        records = list(run_sweep(sweep, pool))
    assert [(r.point, r.seed) for r in records] == [
        (p, s) for p in range(8) for s in (11, 12, 13)]
    invalid = [r for r in records if r.status == "invalid"]
    # min_workers 9 against max_workers 8: points 2, 3, 6, 7 (min_workers is the middle axis)
    assert {r.point for r in invalid} == {2, 3, 6, 7}
    assert all("pool.max_workers: must be >= pool.min_workers (8 < 9)" in r.reason
               for r in invalid)
    ok = [r for r in records if r.status == "ok"]
    assert len(ok) == 12 and all(r.figures["arrived"] > 0 for r in ok)
    # common random numbers: the same seed brings the same traffic to every point
    arrivals = {(r.seed, r.figures["arrived"]) for r in ok}
    assert len(arrivals) == 3
    # the pool's figures are the simulator's own: worker-hours price the run
    for r in ok:
        assert r.figures["cost"] == pytest.approx(
            r.figures["worker_hours"] + 0.01 * r.figures["worker_starts"])
    stats = points_of(sweep, records)
    assert [p.number for p in stats] == list(range(8))
    assert stats[0].runs == 3 and math.isfinite(stats[0].get("wait_p95").half_width)


def test_a_run_is_the_same_in_a_worker_as_here() -> None:
    sweep = small_sweep(1)
    with LocalPool(1) as pool:
        first = next(iter(run_sweep(sweep, pool)))
    scenario = with_seed(apply(sweep.scenario, sweep.paths, first.values), first.seed)
    assert run_point(RunTask(0, first.seed, scenario, sweep.objective, sweep.cost)) == \
        first.figures


def test_a_dying_worker_is_retried_alone_then_marked_failed(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    sweep = all_valid_sweep()
    with LocalPool(2) as pool:
        records = list(run_sweep(sweep, pool, runner=dies_on_point_2))
    by_point = {(r.point, r.seed): r for r in records}
    assert len(records) == sweep.grid_size * 2
    assert {r.status for k, r in by_point.items() if k[0] == 2} == {"failed"}
    assert all(r.reason == DIED for r in records if r.point == 2)
    # runs that shared the pool with the dying one were retried and finished
    assert all(r.status == "ok" for r in records if r.point != 2)

    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "died"))
    with LocalPool(2) as pool:
        again = list(run_sweep(sweep, pool, runner=dies_once_on_point_2))
    assert (tmp_path / "died").exists()
    assert all(r.status == "ok" for r in again)
    assert [r.figures for r in again] == [
        r.figures if r.point != 2 else r2.figures for r, r2 in zip(records, again, strict=True)]


def test_a_run_that_raises_is_failed_with_its_reason_and_the_sweep_goes_on() -> None:
    sweep = all_valid_sweep()
    with LocalPool(2) as pool:
        records = list(run_sweep(sweep, pool, runner=raises_on_point_3))
    failed = [r for r in records if r.status == "failed"]
    assert {r.point for r in failed} == {3}
    assert failed[0].reason == "RuntimeError: the handler broke"
    assert sum(r.status == "ok" for r in records) == len(records) - 2


def test_cli_writes_the_folder_and_resume_finishes_it_to_the_same_bytes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "small.toml"
    spec.write_text(small_text())
    whole = tmp_path / "whole"
    assert main(["sweep", str(spec), "--out", str(whole), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "frontier (" in out and "cheapest point meeting the objective: #" in out
    runs = _rows(whole / "runs.csv")
    assert len(runs) == 24
    assert runs[0].keys() >= {"point", "seed", "status", "reason", "pool.scale_up_threshold",
                              "cost", "wait_p50", "wait_p95", "wait_p99", "mean_wait",
                              "slo_violation_share", "dead_lettered", "utilization",
                              "mean_workers", "peak_workers", "scale_events"}
    invalid = [r for r in runs if r["status"] == "invalid"]
    assert len(invalid) == 12 and "min_workers" in invalid[0]["reason"]
    assert invalid[0]["wait_p95"] == ""
    points = _rows(whole / "points.csv")
    assert len(points) == 8 and {"cost_ci95", "wait_p95_ci95"} <= points[0].keys()
    frontier = _rows(whole / "frontier.csv")
    assert frontier and all(r["status"] == "ok" for r in frontier)
    assert main(["sweep", str(spec), "--out", str(whole)]) == 2  # never over a finished sweep

    # an interrupted sweep: the first ten runs of runs.csv survived; resume finishes it
    cut = tmp_path / "cut"
    cut.mkdir()
    lines = (whole / "runs.csv").read_text().splitlines(keepends=True)
    (cut / "runs.csv").write_text("".join(lines[:11]))
    (cut / "sweep.json").write_text((whole / "sweep.json").read_text())
    assert main(["sweep", "--resume", str(cut), "--workers", "2"]) == 0
    assert (cut / "runs.csv").read_bytes() == (whole / "runs.csv").read_bytes()
    assert (cut / "points.csv").read_bytes() == (whole / "points.csv").read_bytes()
    assert (cut / "frontier.csv").read_bytes() == (whole / "frontier.csv").read_bytes()
    assert main(["sweep", "--resume", str(tmp_path / "nothing")]) == 2


def test_kept_runs_are_reused_only_for_the_same_point_and_failed_ones_rerun() -> None:
    from queuelab.tuning.sweep import RunRecord

    sweep = small_sweep(1)
    with LocalPool(2) as pool:
        fresh = list(run_sweep(sweep, pool))
        first = fresh[0]
        planted = {
            (0, 11): RunRecord(0, 11, first.values, "ok", "", {"cost": -1.0}),  # reused
            (1, 11): RunRecord(1, 11, ("other", 0, "x"), "ok", "", {"cost": -1.0}),  # not
            (4, 11): RunRecord(4, 11, fresh[4].values, "failed", "died", {}),  # rerun
        }
        resumed = list(run_sweep(sweep, pool, done=planted))
    assert resumed[0].figures == {"cost": -1.0}
    assert resumed[1] == fresh[1] and resumed[4] == fresh[4]
