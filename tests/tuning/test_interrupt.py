"""Ctrl-C stops a sweep cleanly and keeps what finished; --resume completes it to the very
bytes an uninterrupted sweep writes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import small_text

ROOT = Path(__file__).resolve().parents[2]


def _sweep(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "queuelab.cli", "sweep", *args,
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.timeout(300)
def test_ctrl_c_keeps_the_finished_runs_and_resume_finishes_them(tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text(small_text().replace("duration = 400.0", "duration = 1500.0").replace(
        '"retry.jitter" = ["full", "equal"]', '"retry.max_attempts" = { range = [1, 8, 1] }'))
    cut = tmp_path / "cut"
    run = _sweep(str(spec), "--out", str(cut))
    part = cut / "runs.csv.part"
    deadline = time.monotonic() + 120
    while not (part.exists() and part.read_text().count("\n") > 8):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "no runs finished"
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert f"interrupted: the finished runs are kept; queuelab sweep --resume {cut}" in err
    assert "Traceback" not in err
    kept = (cut / "runs.csv").read_text().splitlines()
    total = 1 + 32 * 3
    assert 8 < len(kept) < total, "the sweep was not cut short"
    assert json.loads((cut / "sweep.json").read_text())["status"] == "interrupted"

    resumed = _sweep("--resume", str(cut))
    _, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    assert json.loads((cut / "sweep.json").read_text())["status"] == "complete"

    whole = _sweep(str(spec), "--out", str(tmp_path / "whole"))
    _, err = whole.communicate(timeout=240)
    assert whole.returncode == 0, err
    for name in ("runs.csv", "points.csv", "frontier.csv"):
        assert (cut / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert (cut / "runs.csv").read_text().count("\n") == total
