"""The backend benchmark still runs (tiny sizes): it is the yardstick later backends use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..services import needs

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "backends.py"


def test_bench_runs_and_prints_a_row_per_mode_and_worker_count() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tasks", "300", "--repeat", "1", "--workers", "1,4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("memory ")]
    assert len(rows) == 4  # yield and tight, for 1 and 4 workers
    assert all(float(row.split()[-1]) > 0 for row in rows)


def test_bench_refuses_an_unknown_backend() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--backends", "carrier-pigeon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown backend" in done.stderr


@pytest.mark.parametrize(
    "backend", ["sqs", pytest.param("nats", marks=needs("nats"))]
)
def test_the_new_brokers_run_beside_their_raw_clients(backend: str) -> None:
    """sqs (a local SQS server the bench starts and stops) and nats (the shared server; the
    bench deletes its streams) each print a row with both rates."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--backends", backend, "--tasks", "30", "--repeat", "1",
         "--workers", "2", "--mode", "yield"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if line.startswith(f"{backend} ")]
    ours, raw, ratio = (float(x.replace(",", "")) for x in row.split()[-3:])
    assert ours > 0 and raw > 0 and ratio > 0
