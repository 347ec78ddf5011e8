"""How well does a sweep use the machine, locally and through Dask, and is its memory flat?

A 200-point × 5-seed sweep of an autoscaling scenario (one simulated hour at 10 tasks/s per
run) is run three ways, each writing its folder as a real `queuelab sweep` does:

1. one process, a sample of the runs one after another: the speed of one core, the reference;
2. the local process pool over every core: wall time, tasks simulated per second in total,
   and the ratio to cores × one process's speed (goal >= 0.85, and under 60 s);
3. a Dask LocalCluster of 2 worker processes (1 thread each): its ratio to the local pool
   (goal >= 0.8), and whether its runs.csv is the same bytes.

The parent's resident set size is sampled as points finish: results stream to disk, so it
must not grow with the number of points. The machine's load average is printed beside the
figures: on a shared machine, other processes take cores from every ratio.

    .venv/bin/python bench/sweep.py [--points 200] [--seeds 5] [--sample 20] [--no-dask]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psutil

from queuelab import native
from queuelab.core.scenario import ArrivalsConfig, PoolConfig, RunConfig, Scenario, ServiceConfig
from queuelab.tuning import DaskCluster, LocalPool, run_sweep
from queuelab.tuning.axes import Axis
from queuelab.tuning.points import apply, planned_points, with_seed
from queuelab.tuning.results import SweepFolder
from queuelab.tuning.runner import RunTask, run_point
from queuelab.tuning.spec import CostModel, Objective, Sweep

MB = 1024 * 1024


def autoscaling_sweep(points: int, seeds: int) -> Sweep:
    """`points` threshold autoscalers (threshold × check interval) on 10 tasks/s for an hour."""
    base = replace(
        Scenario(name="Autoscaling at 10 tasks/s"),
        run=RunConfig(duration=3600.0, warmup=120.0, seed=1),
        arrivals=ArrivalsConfig(process="poisson", rate=10.0),
        service=ServiceConfig(distribution="lognormal", mean=1.0, sigma=0.6),
        pool=PoolConfig(strategy="dynamic", workers=4, min_workers=2, max_workers=40,
                        check_interval=5.0, scale_up_threshold=20.0, scale_down_threshold=2.0,
                        startup_delay=10.0),
    )
    intervals = (1.0, 2.0, 5.0, 10.0)
    per = max(1, points // len(intervals))
    thresholds = tuple(float(2 + 3 * i) for i in range(per))
    return Sweep(scenario=base, axes=(Axis("pool.check_interval", intervals),
                                      Axis("pool.scale_up_threshold", thresholds)),
                 name="bench", replications=seeds, first_seed=1,
                 objective=Objective("wait_p95", 10.0), cost=CostModel(1.0, 0.01))


def cpu_children() -> float:
    """CPU seconds of every finished child process (and the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_process(sweep: Sweep, sample: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, tasks) for `sample` runs spread over the sweep, in turn."""
    points = list(planned_points(sweep))
    step = max(1, len(points) // sample)
    chosen = points[::step][:sample]
    began, cpu, tasks = time.perf_counter(), time.process_time(), 0
    for i, p in enumerate(chosen):
        seed = sweep.seeds[i % len(sweep.seeds)]
        s = with_seed(apply(sweep.scenario, sweep.paths, p.values), seed)
        tasks += run_point(RunTask(p.number, seed, s, sweep.objective, sweep.cost))["arrived"]
    return time.perf_counter() - began, time.process_time() - cpu, tasks


def swept(sweep: Sweep, executor: object, folder: Path
          ) -> tuple[float, float, float, int, list[float]]:
    """(wall, of which start-up, CPU seconds of every process, tasks, parent RSS in MB at
    each quarter of the points)."""
    me = psutil.Process()
    cpu = time.process_time() + cpu_children()
    began = time.perf_counter()
    with executor:  # type: ignore[attr-defined]
        started = time.perf_counter() - began
        out = SweepFolder(folder, sweep)
        total = sweep.grid_size
        marks = {max(1, round(total * q / 4)) for q in (1, 2, 3, 4)}
        rss: list[float] = []
        for record in run_sweep(sweep, executor):  # type: ignore[arg-type]
            if out.add(record) is not None and len(out.points) in marks:
                rss.append(me.memory_info().rss / MB)
        out.close()
    wall = time.perf_counter() - began
    return wall, started, time.process_time() + cpu_children() - cpu, out.tasks, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sample", type=int, default=20, help="runs timed in one process")
    ap.add_argument("--no-dask", action="store_true")
    ns = ap.parse_args()
    cores = os.cpu_count() or 1
    sweep = autoscaling_sweep(ns.points, ns.seeds)
    runs = sweep.grid_size * sweep.replications
    print(f"QueueLab sweep benchmark: {sweep.grid_size} points × {sweep.replications} seeds = "
          f"{runs} runs of 1 simulated hour at 10 tasks/s; {cores} cores; simulator "
          f"{native.status()}; load average {os.getloadavg()[0]:.2f} at the start")

    wall1, cpu1, tasks1 = one_process(sweep, ns.sample)
    single = tasks1 / wall1
    print(f"one process:  {ns.sample} runs in {wall1:.2f} s = {single:,.0f} tasks/s "
          f"({wall1 / ns.sample * 1000:.0f} ms per run; {tasks1 / cpu1:,.0f} tasks per CPU "
          "second)")

    with tempfile.TemporaryDirectory() as tmp:
        wall, start, cpu, tasks, rss = swept(sweep, LocalPool(cores), Path(tmp) / "local")
        rate = tasks / wall
        print(f"local pool:   {wall:.2f} s wall (start-up {start:.2f} s), {rate:,.0f} tasks/s "
              f"in total; ratio to {cores} × one process {rate / (cores * single):.2f} "
              f"(goal >= 0.85); under 60 s: {'yes' if wall < 60 else 'no'}")
        print(f"              CPU: {tasks / cpu:,.0f} tasks per CPU second in all processes, "
              f"{tasks / cpu / (tasks1 / cpu1):.2f} of one process's (the pool's overhead, "
              "whatever the load)")
        print(f"              parent RSS at each quarter of the points: "
              f"{', '.join(f'{r:.1f}' for r in rss)} MB")
        if not ns.no_dask:
            dwall, dstart, dcpu, dtasks, drss = swept(sweep, DaskCluster(workers=2),
                                                      Path(tmp) / "dask")
            same = ((Path(tmp) / "dask" / "runs.csv").read_bytes()
                    == (Path(tmp) / "local" / "runs.csv").read_bytes())
            print(f"Dask (2 workers × 1 thread): {dwall:.2f} s wall (cluster start-up "
                  f"{dstart:.2f} s), {dtasks / dwall:,.0f} tasks/s; ratio to the local pool "
                  f"{wall / dwall:.2f} (goal >= 0.8); runs.csv identical: "
                  f"{'yes' if same else 'NO'}")
            print(f"              CPU: {dtasks / dcpu:,.0f} tasks per CPU second in all "
                  f"processes, {dtasks / dcpu / (tasks1 / cpu1):.2f} of one process's")
            print(f"              parent RSS at each quarter of the points: "
                  f"{', '.join(f'{r:.1f}' for r in drss)} MB")
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other processes share the cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
