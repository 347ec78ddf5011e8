"""`queuelab run --engine live` and `queuelab worker`: files, messages and exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from queuelab.backends import BackendError, open_queue
from queuelab.cli import main
from queuelab.commands.worker import serve
from queuelab.core.metrics import FRAME_COLUMNS
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import Task
from queuelab.io.frames_csv import read_frames_csv
from tests.runtime.helpers import scenario
from tests.services import needs

ROOT = Path(__file__).resolve().parents[2]
MMC = str(ROOT / "resources" / "scenarios" / "steady-mmc.toml")


def test_a_live_run_writes_the_same_files_as_a_simulated_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", MMC, "--duration", "60", "--seed", "4"]
    assert main([*args, "--out", str(tmp_path / "sim"), "--quiet"]) == 0
    queue = f"memory://same-files-{os.getpid()}"  # the process-wide default may hold tasks
    assert main([*args, "--engine", "live", "--time-scale", "0.02", "--backend", queue,
                 "--out", str(tmp_path / "live")]) == 0
    out = capsys.readouterr().out
    assert "Steady M/M/c: live run of 60 s" in out and f"through {queue} (time scale 0.02)" in out
    for engine in ("sim", "live"):
        header = (tmp_path / engine / "frames.csv").read_text().splitlines()[0]
        assert header.split(",") == list(FRAME_COLUMNS)
    rows = read_frames_csv(tmp_path / "live" / "frames.csv")
    assert 57 <= len(rows) <= 60 and 59.9 < rows[-1]["t"] < 61.0  # a stall merges frames
    assert all(r["created"] + r["carried_over"] == r["depth"] + r["in_flight"] + r["retrying"]
               + r["done"] + r["dead_letters"] + r["by_others"] for r in rows)
    sim = json.loads((tmp_path / "sim" / "summary.json").read_text())
    live = json.loads((tmp_path / "live" / "summary.json").read_text())
    assert list(live) == list(sim)  # same keys, same order
    assert live["engine"] == "live" and live["arrived"] == sim["arrived"]
    assert live["erlang_c"] == sim["erlang_c"]


def test_an_unreachable_backend_is_one_clear_line_with_the_password_masked() -> None:
    url = "postgresql://lab:hunter2@127.0.0.1:1/queues"
    result = subprocess.run(
        [sys.executable, "-m", "queuelab.cli", "run", "--engine", "live", "--backend", url,
         "--duration", "10", "--out", "/nonexistent-but-unused"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("queuelab run: cannot open postgresql://lab:***@")
    assert "hunter2" not in result.stderr + result.stdout


def test_bad_live_settings_exit_2_naming_the_flag(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", MMC, "--engine", "live", "--time-scale", "0",
                 "--out", str(tmp_path)]) == 2
    assert "--time-scale: must be > 0" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\n[service]\nhandler = "nowhere.at_all:handle"\n')
    assert main(["run", str(bad), "--engine", "live", "--out", str(tmp_path),
                 "--allow-handler"]) == 2
    err = capsys.readouterr().err
    assert "service.handler: cannot import 'nowhere.at_all'" in err


@pytest.mark.asyncio
async def test_worker_serves_a_shared_queue_until_interrupted(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = "memory://worker-command-test"
    queue = open_queue(url)
    await queue.purge()
    await queue.enqueue_many(Task(task_id(n), synthetic_payload(n, 0, 8), created_at=0.0)
                             for n in range(1, 21))
    s = scenario(run={"time_scale": 0.01}, service={"mean": 0.5},
                 queue={"backend": url}, pool={"workers": 3})
    served = asyncio.create_task(serve(s))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if (await queue.counts()).total == 0:
            break
    os.kill(os.getpid(), signal.SIGINT)  # the worker's own handler: a graceful stop
    assert await asyncio.wait_for(served, 5.0) == 0
    counts = await queue.counts()
    assert counts.total == 0
    captured = capsys.readouterr()
    assert "queuelab worker: stopped; done 20, dead-lettered 0" in captured.out
    # what it found is said, and kept (no --purge): a worker is there to work it off
    assert (f"queuelab worker: {url} holds 20 waiting: kept, worked off as part of this run"
            in captured.err)
    assert main(["worker", "--backend", "memory://"]) == 2


@pytest.mark.asyncio
async def test_worker_processes_share_a_durable_queue(tmp_path: Path) -> None:
    """Two `queuelab worker` processes drain one SQLite queue a third party fills; SIGTERM
    stops each one gracefully."""
    url = f"sqlite:///{tmp_path / 'shared.db'}?queue=work"
    try:
        queue = open_queue(url)
        await queue.open()
    except BackendError as exc:
        pytest.skip(str(exc))
    n = 60
    cmd = [sys.executable, "-m", "queuelab.cli", "worker", "--backend", url, "--workers", "3",
           "--time-scale", "0.01"]
    procs = [await asyncio.create_subprocess_exec(*cmd, cwd=ROOT,
                                                  stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
             for _ in range(2)]
    first_lines = []
    for p in procs:  # both are up (and handle SIGTERM) before there is any work
        assert p.stdout is not None
        first_lines.append(await asyncio.wait_for(p.stdout.readline(), 60))
    assert all(b"Ctrl-C to stop" in line for line in first_lines), first_lines
    await queue.enqueue_many(Task(task_id(i), synthetic_payload(i, 0, 8), created_at=0.0)
                             for i in range(1, n + 1))
    left = n
    try:
        for _ in range(600):
            await asyncio.sleep(0.05)
            left = (await queue.counts()).total
            if left == 0:
                break
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        outs = [await asyncio.wait_for(p.communicate(), 30) for p in procs]
        await queue.close()
    assert left == 0, [(p.returncode, out.decode(), err.decode())
                       for p, (out, err) in zip(procs, outs, strict=True)]
    done = 0
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
        last = out.decode().strip().splitlines()[-1]
        assert last.startswith("queuelab worker: stopped; done ")
        done += int(last.split("done ")[1].split(",")[0])
    assert done == n  # each task handled by exactly one of the two processes


def _live_cli(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`queuelab run --engine live` for 2 scenario seconds at time scale 0.05."""
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "queuelab.cli", "run", "--engine", "live",
         "--backend", url, "--duration", "2", "--time-scale", "0.05", *extra,
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)


def _purge(url: str) -> None:
    """Remove what a test's own queue holds (never another's)."""
    async def purge() -> None:
        async with open_queue(url) as q:
            await q.purge()

    asyncio.run(purge())


@pytest.mark.parametrize("_redis", [pytest.param(0, marks=needs("redis"))])
def test_a_redis_that_keeps_nothing_on_disk_is_warned_about(_redis: int, tmp_path: Path) -> None:
    """This machine's Redis keeps nothing on disk; before, a live run said nothing of it."""
    url = f"redis://127.0.0.1:6379/0?queue=cli-notice-{os.getpid()}"
    try:
        result = _live_cli(url, tmp_path, "--quiet")
    finally:
        _purge(url)
    assert result.returncode == 0, result.stderr
    assert "queuelab run: warning: " in result.stderr
    assert "keeps nothing on disk" in result.stderr


@pytest.mark.parametrize("_redis", [pytest.param(0, marks=needs("redis"))])
def test_a_credential_option_is_masked_in_the_summary_and_errors(
        _redis: int, tmp_path: Path) -> None:
    """Before, `?password=` (documented for redis://) was printed as typed in the summary
    line, the worker banner and error messages (only user:password@ was masked)."""
    secret = "Pw-opt-s3cret"
    url = f"redis://127.0.0.1:6379/0?password={secret}&queue=cli-cred-{os.getpid()}"
    try:
        run = _live_cli(url, tmp_path)
        bad = _live_cli(f"memory://x?token={secret}", tmp_path / "bad")
    finally:
        _purge(url)
    assert run.returncode == 0, run.stderr
    assert "password=***" in run.stdout
    assert bad.returncode == 2 and "token=***" in bad.stderr
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert secret not in run.stdout + run.stderr + bad.stdout + bad.stderr + written
