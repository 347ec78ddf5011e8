"""Sweeps: one scenario over a grid of knob values and seeds, and the cost/wait frontier.

Pure of Qt: the CLI (`queuelab sweep`) and the app's tuning view both drive it.

    sweep = load_sweep("my-sweep.toml")
    for record in run_sweep(sweep):          # local process pool over every core
        ...                                  # one RunRecord per point × seed, in order
    front = frontier(points_of(sweep, records), sweep.objective.metric)
"""

from queuelab.tuning.executors import ClusterLost, DaskCluster, LocalPool
from queuelab.tuning.files import load_sweep, loads_sweep
from queuelab.tuning.frontier import cheapest_meeting, dominates, frontier
from queuelab.tuning.spec import CostModel, Objective, Search, Sweep, SweepError
from queuelab.tuning.stats import Estimate, PointStats
from queuelab.tuning.sweep import RunRecord, iter_points, points_of, run_sweep

__all__ = [
    "ClusterLost", "CostModel", "DaskCluster", "Estimate", "LocalPool", "Objective",
    "PointStats", "RunRecord", "Search", "Sweep", "SweepError", "cheapest_meeting",
    "dominates", "frontier", "iter_points", "load_sweep", "loads_sweep", "points_of",
    "run_sweep",
]
