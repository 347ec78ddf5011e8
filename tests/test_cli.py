"""`queuelab run` and `queuelab scenario`: outputs, exit codes and messages, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.core.metrics import FRAME_COLUMNS
from queuelab.io.frames_csv import read_frames_csv

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "resources" / "scenarios").glob("*.toml"))
SUMMARY_KEYS = {"arrived", "completed", "dead_lettered", "waiting", "in_flight", "retrying",
                "mean_wait", "mean_wait_ci95", "wait_p50", "wait_p95", "wait_p99",
                "utilization", "final_workers", "worker_seconds", "events", "wall_seconds"}


def test_run_writes_frames_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", str(ROOT / "resources/scenarios/steady-mmc.toml"), "--duration", "600",
                 "--seed", "3", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "Erlang C (M/M/4): 0.746 s" in out
    header = (tmp_path / "frames.csv").read_text().splitlines()[0]
    assert header.split(",") == list(FRAME_COLUMNS)
    assert FRAME_COLUMNS[:14] == ("t", "depth", "in_flight", "workers", "busy", "utilization",
                                  "arrival_rate", "throughput", "error_rate", "retry_rate",
                                  "dead_letters", "wait_p50", "wait_p95", "wait_p99")
    rows = read_frames_csv(tmp_path / "frames.csv")
    assert len(rows) == 600 and rows[-1]["t"] == 600.0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["seed"] == 3 and summary["erlang_c"]["servers"] == 4
    little = summary["littles_law"]
    assert little["lq"] == pytest.approx(little["arrival_rate"] * summary["mean_wait"])
    assert "Little's law" in out


def test_same_seed_same_files(tmp_path: Path) -> None:
    for d in ("a", "b"):
        assert main(["run", str(SCENARIOS[0]), "--duration", "300", "--out",
                     str(tmp_path / d), "--quiet"]) == 0
    assert (tmp_path / "a/frames.csv").read_bytes() == (tmp_path / "b/frames.csv").read_bytes()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["scenario", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert ": ok (" in out
    assert "\n  retry: " in out and "is dead-lettered after" in out  # the policies it builds


def test_scenario_check_says_what_each_policy_does(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "storm.toml"
    path.write_text('format = 1\n[retry]\nmax_attempts = 4\nbase_delay = 1.0\njitter = "none"\n'
                    '[pool]\nstrategy = "dynamic"\n[breaker]\nenabled = true\n')
    assert main(["scenario", "check", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines[0] == ("  retry: 4 attempts, backoff 1s, 2s, 4s (x2, cap 60s, none jitter); "
                        "a task failing every attempt is dead-lettered after 7s of backoff")
    assert lines[1].startswith("  autoscaler threshold: ")
    assert lines[2].startswith("  breaker closed: opens after ")


def test_scenario_new_writes_a_commented_default_that_checks(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    assert main(["scenario", "new", str(f)]) == 0
    text = f.read_text()
    assert "# Arrival process" in text and "[pool]" in text
    assert main(["scenario", "check", str(f)]) == 0
    assert main(["scenario", "new", str(f)]) == 2  # no silent overwrite


def test_invalid_files_exit_2_naming_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[arrivals]\nrate = -3\n[pool]\nmin_workers = 5\nmax_workers = 2\n"
                   "[arrivals_typo]\n")
    result = subprocess.run([sys.executable, "-m", "queuelab.cli", "scenario", "check",
                             str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "arrivals.rate: must be >= 0 (got -3)" in result.stderr
    assert "pool.max_workers: must be >= pool.min_workers (2 < 5)" in result.stderr
    assert "arrivals_typo: unknown section" in result.stderr
    assert "Traceback" not in result.stderr
    run = subprocess.run([sys.executable, "-m", "queuelab.cli", "run", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_unreadable_trace_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "trace.toml"
    f.write_text('[arrivals]\nprocess = "trace"\ntrace = "missing.csv"\n')
    assert main(["scenario", "check", str(f)]) == 2
    err = capsys.readouterr().err
    assert "arrivals.trace: cannot read" in err and "missing.csv" in err
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "file: cannot read" in capsys.readouterr().err


def test_trace_replay(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("time\n" + "".join(f"{i * 0.5}\n" for i in range(1, 101)))
    f = tmp_path / "trace.toml"
    f.write_text('[run]\nduration = 100\nwarmup = 0\n[arrivals]\nprocess = "trace"\n'
                 'trace = "t.csv"\n')
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "o/summary.json").read_text())
    assert summary["arrived"] == 100


def test_bad_flag_values_are_refused(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--duration", "-5"]) == 2
    assert "--duration: must be > 0" in capsys.readouterr().err


def test_run_says_what_the_callers_did(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`[clients]`: the summary names timeouts, retries, give-ups and wasted work, and the
    books in summary.json carry rejected and abandoned, so they balance as printed."""
    path = ROOT / "resources/scenarios/retry-storm-clients.toml"
    assert main(["run", str(path), "--duration", "240", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  callers: " in out and " retries sent (each a task in 'created')" in out
    assert "UNBALANCED" not in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    books = summary["books"]
    assert books["balanced"] and {"rejected", "abandoned"} <= set(books)
    assert summary["client_retries"] > 0 and summary["wasted_work"] > 0
    assert main(["scenario", "check", str(path)]) == 0
    assert "  clients: give up after 2s waiting, 3 retries" in capsys.readouterr().out


def test_printed_books_count_rejected_arrivals(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "shed.toml"
    path.write_text("format = 1\n[run]\nduration = 120\nwarmup = 0\n[arrivals]\nrate = 8.0\n"
                    "[queue]\nmax_length = 2\n[pool]\nworkers = 2\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert " + rejected " in out and "UNBALANCED" not in out
