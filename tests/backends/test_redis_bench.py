"""The Redis row of the backend benchmark still runs (tiny sizes) and leaves no keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from ..services import needs

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "backends.py"

pytestmark = [*needs("redis")]


def test_the_redis_row_runs_next_to_raw_redis_py() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--backends", "redis", "--tasks", "200", "--repeat", "1",
         "--workers", "1,4", "--mode", "yield"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("redis ")]
    assert [(r[1], r[3]) for r in rows] == [("redis-py+Lua", "1"), ("redis-py+Lua", "4")]
    assert all(float(r[-1]) > 0 for r in rows)
    with redis.Redis(host="127.0.0.1", port=6379) as r:
        left = [k for pattern in ("queuelab:{bench}:*", "queuelab:{bench-raw}:*")
                for k in r.scan_iter(match=pattern)]  # fmt: skip
    assert left == []
