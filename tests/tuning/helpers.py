"""Small sweeps for the tests: a few minutes of simulated traffic per run, in fractions of a
second, and runners that misbehave on purpose (they run in spawned worker processes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from queuelab.tuning.files import loads_sweep
from queuelab.tuning.runner import RunTask, run_point
from queuelab.tuning.spec import Sweep

SMALL = """
format = 1
name = "small"
replications = {replications}
seed = 11

[scenario.run]
duration = 400.0
warmup = 40.0

[scenario.arrivals]
process = "bursty"
rate = 2.0
burst_rate = 8.0
burst_length = 20.0
quiet_length = 80.0

[scenario.service]
mean = 0.5

[scenario.pool]
strategy = "dynamic"
min_workers = 1
max_workers = 8
check_interval = 2.0
scale_up_threshold = 10.0
scale_down_threshold = 2.0
startup_delay = 3.0

[axes]
"pool.scale_up_threshold" = [3, 12]
"pool.min_workers" = [1, 9]
"retry.jitter" = ["full", "equal"]

[slo]
wait_p95 = 5.0

[cost]
per_start = 0.01
"""


def small_text(replications: int = 3) -> str:
    return SMALL.format(replications=replications)


def small_sweep(replications: int = 3) -> Sweep:
    """8 points (2 of them invalid: min_workers 9 > max_workers 8) × `replications` seeds."""
    return loads_sweep(small_text(replications))


def all_valid_sweep() -> Sweep:
    """The small sweep with min_workers 1 or 2: 8 valid points × 2 seeds."""
    return loads_sweep(small_text(2).replace('"pool.min_workers" = [1, 9]',
                                             '"pool.min_workers" = [1, 2]'))


MARKER_ENV = "QUEUELAB_TEST_DIE_ONCE"


def dies_on_point_2(task: RunTask) -> dict[str, Any]:
    """Kills its worker process whenever it runs point 2."""
    if task.point == 2:
        os._exit(3)
    return run_point(task)


def dies_once_on_point_2(task: RunTask) -> dict[str, Any]:
    """Kills its worker the first time point 2 runs (a marker file remembers), then runs it."""
    marker = Path(os.environ[MARKER_ENV])
    if task.point == 2 and not marker.exists():
        marker.write_text("died")
        os._exit(3)
    return run_point(task)


def raises_on_point_3(task: RunTask) -> dict[str, Any]:
    if task.point == 3:
        raise RuntimeError("the handler broke")
    return run_point(task)
