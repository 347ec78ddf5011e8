"""Sweep files on disk: TOML in (format 1), and the commented default `sweep new` writes.

Reading lives here rather than in `io/`: a sweep's types are tuning's vocabulary, and
`io/` sits below the engines, where it cannot import them. The base scenario a sweep
names is read by `io.scenario_files`, relative to the sweep file.
"""

from __future__ import annotations

from pathlib import Path

from queuelab.core import limits, scenario_toml
from queuelab.core.validation import FieldError, ScenarioError
from queuelab.io.bounded import FileRefused, read_text
from queuelab.io.scenario_files import load_scenario
from queuelab.tuning.spec import Sweep, SweepError, sweep_from_dict

MAX_BYTES = limits.MAX_SCENARIO_BYTES  # a sweep file is a page of text


def loads_sweep(text: str, base: Path | None = None) -> Sweep:
    """A Sweep from TOML text; a scenario path in it is read relative to `base`."""
    try:
        data = scenario_toml.parse(text)
    except ScenarioError as exc:
        raise SweepError(exc.errors) from None

    def scenario_at(name: str) -> object:
        p = Path(name).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        return load_scenario(p)

    return sweep_from_dict(data, scenario_at)  # type: ignore[arg-type]


def read_sweep_text(path: str | Path) -> str:
    """The text of a sweep file, or SweepError saying why it cannot be read."""
    p = Path(path)
    try:
        return read_text(p, MAX_BYTES)
    except FileRefused as exc:
        raise SweepError(FieldError("file", str(exc))) from None


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; SweepError names every bad value by its path."""
    p = Path(path)
    return loads_sweep(read_sweep_text(p), p.parent)


DEFAULT_SWEEP = '''\
# A QueueLab sweep (format 1): one scenario run over a grid of knob values, each point with
# the same seeds (common random numbers), to find the cheapest settings meeting an objective.
# Run it: queuelab sweep THIS_FILE --out DIR    (every key below is checked; exit 2 names a bad one)
format = 1
name = "{name}"

# Runs per point; every point uses seeds seed, seed + 1, ... (default: the scenario's seed).
replications = 5
seed = 1

# The base scenario: a path to a scenario file (relative to this file), e.g.
#   scenario = "my-scenario.toml"
# or, as here, an inline [scenario] table holding the sections of a scenario file.
[scenario]
name = "Bursty traffic with autoscaling"

[scenario.run]
duration = 3600.0
warmup = 300.0

[scenario.arrivals]
process = "bursty"
rate = 3.0
burst_rate = 20.0

[scenario.pool]
strategy = "dynamic"
min_workers = 2
max_workers = 20
startup_delay = 10.0

# The knobs that vary: any knob path of a scenario. Each axis is a list of values, or a table
# with one of range = [start, stop, step] (stop included), linspace = [start, stop, count]
# or logspace = [start, stop, count] (both > 0). Whole-number knobs are rounded.
[axes]
"pool.scale_up_threshold" = {{ linspace = [10, 80, 8] }}
"pool.max_workers" = [8, 12, 16, 20]
"retry.jitter" = ["full", "equal"]

# The objective, in seconds: exactly one of wait_p95, wait_p99, mean_wait (of each run after
# its warm-up, averaged over the replications with a 95 % confidence interval).
[slo]
wait_p95 = 8.0

# What a run costs: worker_hour per hour of every live worker (starting, idle or busy) after
# the warm-up, plus per_start for each worker the autoscaler starts (a cold start).
[cost]
worker_hour = 1.0
per_start = 0.0

# method: grid (every point), random (budget points drawn from the grid by the search's own
# seed) or optuna (NSGA-II over the same axes: budget points in generations of population;
# needs Optuna installed).
[search]
method = "grid"
# budget = 20
# seed = 0
# population = 20
'''
