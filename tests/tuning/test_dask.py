"""Sweeps on Dask: a real LocalCluster gives runs.csv byte for byte as the local pool does,
and a scheduler that goes away ends the sweep with a clear message, finished runs kept."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuelab.cli import main

from .helpers import small_text

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_a_dask_local_cluster_writes_the_same_runs_csv_as_the_local_pool(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "small.toml"
    spec.write_text(small_text())
    assert main(["sweep", str(spec), "--out", str(tmp_path / "local"), "--workers", "2"]) == 0
    assert main(["sweep", str(spec), "--out", str(tmp_path / "dask"), "--cluster", "dask",
                 "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "on dask" in out
    local = (tmp_path / "local" / "runs.csv").read_bytes()
    assert local.count(b"\n") == 25
    assert (tmp_path / "dask" / "runs.csv").read_bytes() == local
    for name in ("points.csv", "frontier.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name
                                                           ).read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.timeout(300)
def test_a_lost_scheduler_ends_the_sweep_and_keeps_the_finished_runs(tmp_path: Path) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True)
    worker = subprocess.Popen(
        [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
         "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True)
    try:
        # a long sweep (48 points × 3 seeds), cut when some runs are done
        spec = tmp_path / "long.toml"
        spec.write_text(small_text().replace('"retry.jitter" = ["full", "equal"]',
                                             '"retry.max_attempts" = { range = [1, 12, 1] }'))
        out = tmp_path / "out"
        sweep = subprocess.Popen(
            [sys.executable, "-m", "queuelab.cli", "sweep", str(spec), "--out", str(out),
             "--cluster", address], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        part = out / "runs.csv.part"
        _wait_for(lambda: part.exists() and part.read_text().count("\n") > 6, 120,
                  "the first runs")
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(10)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        for p in (scheduler, worker):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
    assert sweep.returncode == 1, stderr
    assert f"lost the Dask scheduler at {address}" in stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    rows = (out / "runs.csv").read_text().splitlines()
    assert 6 < len(rows) < 1 + 48 * 3
    assert '"status": "cluster lost"' in (out / "sweep.json").read_text()


@pytest.mark.timeout(240)
def test_a_run_that_kills_its_dask_worker_is_retried_once_then_failed() -> None:
    from queuelab.tuning import DaskCluster, run_sweep

    from .helpers import all_valid_sweep, dies_on_point_2

    sweep = all_valid_sweep()
    with DaskCluster(workers=2) as cluster:
        records = list(run_sweep(sweep, cluster, runner=dies_on_point_2))
    assert [(r.point, r.seed) for r in records] == [(p, s) for p in range(8) for s in (11, 12)]
    assert {r.status for r in records if r.point == 2} == {"failed"}
    assert all(r.reason == "the worker process died (twice)" for r in records if r.point == 2)
    assert all(r.status == "ok" for r in records if r.point != 2)


def test_the_scheduler_comes_from_the_flag_or_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from argparse import Namespace

    from queuelab.commands.sweep import SCHEDULER_ENV, _executor
    from queuelab.tuning import DaskCluster, LocalPool

    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert isinstance(_executor(Namespace(cluster=None, workers=None)), LocalPool)
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://10.0.0.7:8786")
    chosen = _executor(Namespace(cluster=None, workers=None))
    assert isinstance(chosen, DaskCluster) and chosen.address == "tcp://10.0.0.7:8786"
    flagged = _executor(Namespace(cluster="tcp://127.0.0.1:9999", workers=None))
    assert isinstance(flagged, DaskCluster) and flagged.address == "tcp://127.0.0.1:9999"
    spec = tmp_path / "small.toml"
    spec.write_text(small_text())
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--cluster", "yarn"]) == 2
    assert "--cluster: must be dask or tcp://HOST:PORT" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_an_unreachable_scheduler_is_one_clear_line(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "small.toml"
    spec.write_text(small_text())
    address = f"tcp://127.0.0.1:{_free_port()}"
    code = main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--cluster", address])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert "Traceback" not in err
