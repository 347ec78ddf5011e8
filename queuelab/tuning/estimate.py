"""How long a sweep will take, before it starts, and smaller sweeps to offer instead.

One run's wall time is measured by simulating a slice of the base scenario here and
scaling it up (a run's cost grows with its simulated time); the sweep's time is then the
runs spread over the pool's slots. A rough figure, meant for "about 12 minutes", not a
promise: points with more workers or higher rates cost more than the base.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

from queuelab.core.scenario import Scenario
from queuelab.tuning.axes import Axis
from queuelab.tuning.spec import Sweep

SAMPLE_WALL = 0.4  # wall seconds at most spent measuring
SAMPLE_SHARE = 0.1  # … or this share of the run, whichever comes first
LONG = 180.0  # a sweep longer than this (seconds) is announced before it starts


def seconds_per_run(scenario: Scenario) -> float:
    """Wall seconds one simulated run of `scenario` takes here (measured on a slice)."""
    from queuelab.sim.engine import SimEngine

    engine = SimEngine(scenario)
    engine.start()
    duration = scenario.run.duration
    began = time.perf_counter()
    engine.run_until(duration * SAMPLE_SHARE, deadline=began + SAMPLE_WALL)
    wall = time.perf_counter() - began
    engine.take_frames()
    done = max(engine.now, 1e-9)
    return wall * duration / done


def runs_of(sweep: Sweep) -> int:
    points = sweep.search.budget if sweep.search.method != "grid" else sweep.grid_size
    return points * sweep.replications


def sweep_seconds(sweep: Sweep, per_run: float, slots: int) -> float:
    """The sweep's wall time: its runs in waves over `slots` processes."""
    return math.ceil(runs_of(sweep) / max(1, slots)) * per_run


def fewer_points(sweep: Sweep) -> Sweep:
    """Every axis with about half its values (every other one, both ends kept)."""
    def halve(a: Axis) -> Axis:
        if len(a.values) <= 2:
            return a
        keep = list(a.values[::2])
        if keep[-1] != a.values[-1]:
            keep.append(a.values[-1])
        return Axis(a.path, tuple(keep))

    return replace(sweep, axes=tuple(halve(a) for a in sweep.axes))


def fewer_seeds(sweep: Sweep) -> Sweep:
    """Half the replications (at least two: an interval needs them)."""
    return replace(sweep, replications=max(min(2, sweep.replications),
                                           sweep.replications // 2))


def describe(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
