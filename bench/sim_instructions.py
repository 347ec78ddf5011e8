"""A fixed simulated run to count instructions: the load-independent measure of the simulator.

Wall and CPU timings move with whatever else the machine runs; the number of instructions a
run executes does not. This runs `bench/sim_vs_simpy.py`'s scenario for one seed in virtual
time slices (no wall-clock budget, so every run takes the same path) and checks its books.
Run it under callgrind, counting only the simulation (not the imports):

    valgrind --tool=callgrind --toggle-collect=CPyPy_engine___SimEngine___run_until \\
        .venv/bin/python bench/sim_instructions.py [--duration 600] [--slice 10]
    callgrind_annotate --inclusive=yes callgrind.out.<pid>

(`CPyPy_...run_until` is the compiled entry point: `queuelab --version` must say compiled.)
Compare two builds function by function to find what a change costs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as sim_vs_simpy.py: no spinning threads
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sim_vs_simpy

from queuelab import native
from queuelab.sim.engine import SimEngine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--slice", type=float, default=10.0, help="virtual seconds per run_until")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    engine = SimEngine(sim_vs_simpy.scenario(args.duration, args.seed))
    engine.start()
    t, frames = 0.0, 0
    while engine.state.value != "finished":
        t += args.slice
        engine.run_until(t)
        frames += len(engine.take_frames())
    engine.totals().check()
    print(f"{native.status()}: {engine.totals().created} tasks, {engine.events} events, "
          f"{frames} frames")


if __name__ == "__main__":
    main()
