"""`queuelab monitor` headless: a real RQ queue watched into frames.csv, summary.json and a
history file; bad input is exit 2 with a message and no traceback."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from queuelab.cli import main

from .helpers import on_server, unique


@pytest.mark.parametrize("args, says", [
    (["memory://jobs"], "memory://"),
    (["ftp://h/x?queue=a"], "supported"),
    (["redis://127.0.0.1:6379/0"], "?queue=NAME"),
    (["redis://127.0.0.1:6379/0?queue=a&layout=sidekiq"], "layout"),
    (["redis://127.0.0.1:6379/0?queue=a", "--interval", "0"], "--interval"),
    (["redis://127.0.0.1:6379/0?queue=a", "--list"], "RabbitMQ"),
])
def test_bad_input_exit_2(args: list[str], says: str, capsys: pytest.CaptureFixture[str]
                          ) -> None:
    assert main(["monitor", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@on_server("redis")
def test_watch_an_rq_queue_headless(tmp_path: Path) -> None:
    import redis
    import rq

    r = redis.Redis()
    q = unique("cli")
    queue = rq.Queue(q, connection=r)
    jobs = [queue.enqueue("tests.monitor.rq_jobs.quick") for _ in range(3)]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "queuelab.cli", "monitor",
             f"redis://:pw-sekrit@127.0.0.1:6379/0?queue={q}", "--interval", "0.1",
             "--duration", "1", "--out", str(tmp_path / "out"),
             "--history-dir", str(tmp_path / "hist")],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "RQ layout on Redis" in out.stdout and "ready 3" in out.stdout
        assert "pw-sekrit" not in out.stdout + out.stderr
        rows = list(csv.DictReader((tmp_path / "out" / "frames.csv").open()))
        assert len(rows) >= 5 and {r["depth"] for r in rows} == {"3.0"}
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["polls"] == len(rows) and summary["gaps"] == 0
        hist = list((tmp_path / "hist").iterdir())
        assert len(hist) == 1 and b"pw-sekrit" not in hist[0].read_bytes()
        exported = tmp_path / "h.csv"
        assert main(["monitor", "export-csv", str(hist[0]), "--out", str(exported)]) == 0
        assert len(list(csv.DictReader(exported.open()))) == len(rows)
    finally:
        r.delete(f"rq:queue:{q}", *(f"rq:job:{j.id}" for j in jobs))
        r.srem("rq:queues", f"rq:queue:{q}")
