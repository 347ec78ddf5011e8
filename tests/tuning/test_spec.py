"""Sweep files: axes in every form, and every bad value refused with its field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.tuning.files import DEFAULT_SWEEP, load_sweep, loads_sweep
from queuelab.tuning.points import planned_points
from queuelab.tuning.spec import SweepError

from .helpers import small_text

ROOT = Path(__file__).resolve().parents[2]


def _sweep(axes: str, extra: str = "") -> str:
    return (f'format = 1\nreplications = 2\n{extra}\n[scenario.pool]\nstrategy = "dynamic"\n'
            f"[axes]\n{axes}\n[slo]\nwait_p95 = 1.0\n")


def test_axes_as_lists_ranges_linspaces_and_logspaces() -> None:
    s = loads_sweep(_sweep('"pool.scale_up_threshold" = { range = [10, 30, 10] }\n'
                           '"pool.max_workers" = { linspace = [4, 10, 4] }\n'
                           'pool.check_interval = { logspace = [1, 100, 3] }\n'
                           '"retry.jitter" = ["none", "equal"]\n'))
    assert [a.path for a in s.axes] == ["pool.scale_up_threshold", "pool.max_workers",
                                        "pool.check_interval", "retry.jitter"]
    assert s.axes[0].values == (10.0, 20.0, 30.0)  # stop included
    assert s.axes[1].values == (4, 6, 8, 10)  # a whole-number knob: rounded
    assert s.axes[2].values == (1.0, 10.0, 100.0)
    assert s.axes[3].values == ("none", "equal")
    assert s.grid_size == 3 * 4 * 3 * 2
    points = list(planned_points(s))
    assert len(points) == s.grid_size
    assert points[0].values == (10.0, 4, 1.0, "none")
    assert points[1].values == (10.0, 4, 1.0, "equal")  # the last axis varies fastest
    assert len({p.values for p in points}) == len(points)


def test_random_search_draws_distinct_points_fixed_by_its_seed() -> None:
    text = _sweep('"pool.scale_up_threshold" = { range = [1, 100, 1] }\n'
                  '"pool.max_workers" = { range = [2, 40, 1] }',
                  extra="") + '[search]\nmethod = "random"\nbudget = 50\nseed = 4\n'
    s = loads_sweep(text)
    first = [p.values for p in planned_points(s)]
    assert len(first) == len(set(first)) == 50
    assert first == [p.values for p in planned_points(loads_sweep(text))]


@pytest.mark.parametrize(("text", "path", "words"), [
    (_sweep('"pool.max_worker" = [1]'), "axes.pool.max_worker", "unknown knob path"),
    (_sweep('"run.seed" = [1, 2]'), "axes.run.seed", "cannot be swept"),
    (_sweep('"pool.max_workers" = [4, -1, 2.5]'), "axes.pool.max_workers[1]", ">= 1"),
    (_sweep('"pool.max_workers" = [4, -1, 2.5]'), "axes.pool.max_workers[2]", "whole number"),
    (_sweep('"pool.max_workers" = [4, 4]'), "axes.pool.max_workers[1]", "repeats"),
    (_sweep('"retry.jitter" = ["none", "loud"]'), "axes.retry.jitter[1]", "one of"),
    (_sweep('"pool.max_workers" = []'), "axes.pool.max_workers", "no values"),
    (_sweep('"pool.check_interval" = { logspace = [0, 10, 3] }'),
     "axes.pool.check_interval.logspace", "> 0"),
    (_sweep('"pool.check_interval" = { range = [1, 10, 0] }'),
     "axes.pool.check_interval.range", "step must be > 0"),
    (_sweep('"pool.check_interval" = { linspace = [1, 10, 2.5] }'),
     "axes.pool.check_interval.linspace", "count"),
    (_sweep('"pool.check_interval" = { steps = [1, 2] }'), "axes.pool.check_interval",
     "exactly one of"),
    (_sweep('"pool.max_workers" = [4]').replace("replications = 2", "replications = 0"),
     "replications", "1..1,000"),
    (_sweep('"pool.max_workers" = [4]').replace("wait_p95 = 1.0", "wait_p95 = -1.0"),
     "slo.wait_p95", "> 0"),
    (_sweep('"pool.max_workers" = [4]').replace("wait_p95", "wait_p90"), "slo.wait_p90",
     "unknown key"),
    (_sweep('"pool.max_workers" = [4]') + "[cost]\nper_start = -2\n", "cost.per_start", ">= 0"),
    (_sweep('"pool.max_workers" = [4]') + '[search]\nmethod = "annealing"\n', "search.method",
     "one of"),
    (_sweep('"pool.max_workers" = [4]') + '[search]\nmethod = "random"\n', "search.budget",
     "give the points"),
    (_sweep('"pool.max_workers" = [4, 5]') + '[search]\nmethod = "random"\nbudget = 3\n',
     "search.budget", "grid's 2 points"),
    (_sweep('"pool.max_workers" = [4]').replace('strategy = "dynamic"', 'strategy = "huge"'),
     "scenario.pool.strategy", "one of"),
    (_sweep('"pool.max_workers" = [4]', extra='scenario = "nowhere.toml"').replace(
        '[scenario.pool]\nstrategy = "dynamic"\n', ""), "scenario", "cannot read"),
    (_sweep('"pool.max_workers" = [4]', extra="colour = 3"), "colour", "unknown key"),
    (_sweep('"pool.max_workers" = [4]').replace("format = 1", "format = 2"), "format",
     "unsupported format"),
    ("format = 1\n[slo]\nwait_p95 = 1\n", "axes", "at least one axis"),
    ("this is = not toml [", "file", "not valid TOML"),
])
def test_every_bad_value_is_refused_with_its_path(text: str, path: str, words: str) -> None:
    with pytest.raises(SweepError) as caught:
        loads_sweep(text, ROOT)
    found = {e.path: e.reason for e in caught.value.errors}
    assert path in found, found
    assert words in found[path], found


def test_the_cli_refuses_a_bad_file_with_exit_2_and_no_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(_sweep('"pool.max_workers" = [4, 0]\n"retry.jitter" = ["x"]'))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "axes.pool.max_workers[1]: must be >= 1 (got 0)" in err
    assert "axes.retry.jitter[0]: must be one of" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert main(["sweep", "check", str(bad)]) == 2
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_sweep_new_writes_a_commented_file_that_checks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.toml"
    assert main(["sweep", "new", str(target)]) == 0
    text = target.read_text()
    assert text.count("\n#") >= 10 and "linspace" in text and "per_start" in text
    assert main(["sweep", "new", str(target)]) == 2  # never overwrites by accident
    assert main(["sweep", "check", str(target)]) == 0
    assert "64 points × 5 seeds = 320 runs" in capsys.readouterr().out
    assert loads_sweep(DEFAULT_SWEEP.format(name="x")).grid_size == 64


def test_shipped_sweeps_check() -> None:
    shipped = sorted((ROOT / "resources" / "sweeps").glob("*.toml"))
    assert shipped
    for path in shipped:
        sweep = load_sweep(path)
        assert sweep.grid_size >= 10 and sweep.replications >= 3


def test_small_helper_sweep_is_what_the_other_tests_think() -> None:
    s = loads_sweep(small_text())
    assert s.grid_size == 8 and s.seeds == (11, 12, 13)


def test_a_sweep_over_its_run_budget_is_refused_with_the_figure() -> None:
    text = _sweep('"pool.max_workers" = { range = [1, 1000, 1] }\n'
                  '"pool.check_interval" = { linspace = [1, 60, 1000] }').replace(
        "replications = 2", "replications = 5")
    with pytest.raises(SweepError) as caught:
        loads_sweep(text, ROOT)
    found = {e.path: e.reason for e in caught.value.errors}
    assert found["replications"].startswith(
        "this sweep would make 5,000,000 runs (1,000,000 points x 5 replications; at most "
        "1,000,000)")
