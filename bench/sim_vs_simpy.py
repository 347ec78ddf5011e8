"""QueueLab's simulator against an idiomatic SimPy model of the same rules, in one run.

The scenario: Poisson arrivals, exponential service, a dynamic pool
(threshold autoscaler, one worker up or down per check, removal drains), 5 % failures,
retries with exponential backoff and full jitter, a dead-letter queue after the last
attempt. Both models run several seeds; the script prints the statistics side by side
(they must agree within their spread across seeds), tasks simulated per wall second of
each and the ratio, and QueueLab's peak traced memory for a run and one four times as
long (it must not grow: frames are streamed out, only the dead letters stay).

    .venv/bin/python bench/sim_vs_simpy.py [--duration 3600] [--seeds 3]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import time
import tracemalloc
from dataclasses import replace

# NumPy's OpenBLAS starts worker threads that spin for a moment after the import. Neither
# model makes a BLAS call, but the CPU clock (all threads) would bill that spin to the first
# runs - QueueLab's, which are short enough for it to cost a tenth of their measured speed.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import simpy

from queuelab import native
from queuelab.core.scenario import Scenario
from queuelab.sim.engine import SimEngine

RATE, MEAN, P_FAIL = 40.0, 0.1, 0.05
MIN_W, MAX_W, UP, DOWN, CHECK = 2, 12, 20, 5, 5.0
ATTEMPTS, BASE, MULT, CAP = 3, 0.5, 2.0, 10.0
SAMPLE = 1.0
# Both models run in this process on one thread, so the CPU time each takes is the fair
# measure: unlike wall time, it does not count time the machine gave to other programs.
# `--clock wall` measures wall time instead.
CLOCK = time.process_time


def scale_to(rate: float) -> None:
    """Keep the offered load (rate x mean service) as it is at another arrival rate."""
    global RATE, MEAN
    MEAN = MEAN * RATE / rate
    RATE = rate


def scenario(duration: float, seed: int) -> Scenario:
    s = Scenario(name="bench: dynamic pool with retries")
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=0.0, seed=seed, sample_interval=SAMPLE),
        arrivals=replace(s.arrivals, process="poisson", rate=RATE),
        service=replace(s.service, distribution="exponential", mean=MEAN),
        failures=replace(s.failures, probability=P_FAIL),
        pool=replace(s.pool, strategy="dynamic", workers=MIN_W, min_workers=MIN_W,
                     max_workers=MAX_W, scale_up_threshold=UP, scale_down_threshold=DOWN,
                     check_interval=CHECK),
        retry=replace(s.retry, max_attempts=ATTEMPTS, base_delay=BASE, multiplier=MULT,
                      max_delay=CAP, jitter="full", mode="requeue"),
    )


def run_queuelab(duration: float, seed: int) -> dict[str, float]:
    engine = SimEngine(scenario(duration, seed))
    began = CLOCK()
    engine.start()
    while engine.state.value != "finished":
        engine.run_for(0.5)
        engine.take_frames()  # streamed out, as `queuelab run` writes them
    wall = CLOCK() - began
    engine.totals().check()
    s = engine.summary()
    return {"tasks": engine.totals().created, "wall": wall, "mean_wait": s.mean_wait,
            "throughput": s.throughput, "utilization": s.utilization,
            "dead": s.dead_lettered, "mean_workers": s.worker_seconds / duration}


def run_simpy(duration: float, seed: int) -> dict[str, float]:
    """The same rules written the way SimPy's documentation writes models: processes."""
    rng = random.Random(seed)
    env = simpy.Environment()
    queue = simpy.Store(env)
    stats = {"tasks": 0, "done": 0, "dead": 0, "waits": [], "busy_time": 0.0,
             "worker_time": 0.0, "changed": 0.0}
    workers: list[dict] = []
    frames: list[dict] = []

    def worker(me: dict):
        while not me["retire"]:
            get = queue.get()
            got = yield get | me["wake"]
            if get not in got:
                get.cancel()
                break
            task = got[get]
            me["busy"] = True
            task["attempts"] += 1
            if task["attempts"] == 1:
                stats["waits"].append(env.now - task["created"])
            service = rng.expovariate(1.0 / MEAN)
            start = env.now
            yield env.timeout(service)
            stats["busy_time"] += env.now - start
            me["busy"] = False
            if rng.random() >= P_FAIL:
                stats["done"] += 1
            elif task["attempts"] < ATTEMPTS:
                delay = rng.uniform(0, min(CAP, BASE * MULT ** (task["attempts"] - 1)))
                env.process(retry(task, delay))
            else:
                stats["dead"] += 1
        me["left"] = env.now
        before_pool_change()
        workers.remove(me)

    def before_pool_change() -> None:
        """Worker-seconds integrated exactly: the size the pool had, times how long it held,
        booked just before it changes (and at the end)."""
        stats["worker_time"] += len(workers) * (env.now - stats["changed"])
        stats["changed"] = env.now

    def retry(task: dict, delay: float):
        yield env.timeout(delay)
        yield queue.put(task)

    def add_worker() -> None:
        me = {"retire": False, "wake": env.event(), "since": env.now, "busy": False}
        before_pool_change()
        workers.append(me)
        env.process(worker(me))

    def arrivals():
        while True:
            yield env.timeout(rng.expovariate(RATE))
            stats["tasks"] += 1
            queue.put({"created": env.now, "attempts": 0})

    def autoscaler():
        while True:
            yield env.timeout(CHECK)
            active = [w for w in workers if not w["retire"]]
            backlog = len(queue.items)
            if backlog > UP and len(active) < MAX_W:
                add_worker()
            elif backlog < DOWN and len(active) > MIN_W:
                # like QueueLab: an idle worker leaves first, a busy one drains
                idle = [w for w in active if not w["busy"]]
                leaving = (idle or active)[-1]
                leaving["retire"] = True
                if not leaving["wake"].triggered:
                    leaving["wake"].succeed()

    def monitor():
        """One frame per sample interval with the quantities QueueLab's frames carry."""
        last = 0.0
        seen_waits = seen_done = seen_tasks = 0
        busy_seen = 0.0
        while True:
            yield env.timeout(SAMPLE)
            dt = env.now - last
            last = env.now
            waits = sorted(stats["waits"][seen_waits:])
            seen_waits = len(stats["waits"])
            pct = ([waits[min(len(waits) - 1, int(q * len(waits)))] for q in (0.5, 0.95, 0.99)]
                   if waits else [math.nan] * 3)
            frames.append({
                "t": env.now, "depth": len(queue.items), "workers": len(workers),
                "busy": sum(1 for w in workers if w["busy"]),
                "utilization": (stats["busy_time"] - busy_seen) / max(len(workers) * dt, 1e-9),
                "arrival_rate": (stats["tasks"] - seen_tasks) / dt,
                "throughput": (stats["done"] - seen_done) / dt,
                "dead_letters": stats["dead"], "p50": pct[0], "p95": pct[1], "p99": pct[2],
            })
            seen_done, seen_tasks, busy_seen = stats["done"], stats["tasks"], stats["busy_time"]

    for _ in range(MIN_W):
        add_worker()
    env.process(arrivals())
    env.process(autoscaler())
    env.process(monitor())
    began = CLOCK()
    env.run(until=duration)
    wall = CLOCK() - began
    before_pool_change()
    return {"tasks": stats["tasks"], "wall": wall,
            "mean_wait": statistics.fmean(stats["waits"]),
            "throughput": stats["done"] / duration,
            "utilization": stats["busy_time"] / stats["worker_time"],
            "dead": stats["dead"], "mean_workers": stats["worker_time"] / duration}


def peak_memory(duration: float) -> float:
    gc.collect()
    tracemalloc.start()
    run_queuelab(duration, 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--rate", type=float, default=RATE,
                    help="arrivals per second; service time and pool scale with it so the "
                         "load stays the same (more tasks per frame: frames cost less per task)")
    args = ap.parse_args()
    scale_to(args.rate)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    ql, sp = [], []
    for seed in range(1, args.seeds + 1):  # interleaved, so machine noise hits both alike
        ql.append(run_queuelab(args.duration, seed))
        sp.append(run_simpy(args.duration, seed))

    print(f"QueueLab's simulator: {native.status()} (setup.py; QUEUELAB_PURE_PYTHON=1 for the "
          "source)")
    print(f"scenario: lambda={RATE}/s, exponential {MEAN} s service, dynamic pool "
          f"{MIN_W}-{MAX_W} (up >{UP}, down <{DOWN}, every {CHECK:g} s), {P_FAIL:.0%} failures,"
          f" {ATTEMPTS} attempts, {args.duration:g} s x {args.seeds} seeds\n")
    print(f"{'statistic':<14}{'QueueLab':>22}{'SimPy':>22}   agree?")
    for key in ("mean_wait", "throughput", "utilization", "mean_workers", "dead"):
        a = [r[key] for r in ql]
        b = [r[key] for r in sp]
        ma, mb = statistics.fmean(a), statistics.fmean(b)
        sa = statistics.stdev(a) if len(a) > 1 else 0.0
        sb = statistics.stdev(b) if len(b) > 1 else 0.0
        # two-sample spread of the means; 3 standard errors is a loose, honest bar. Dead
        # letters are a rare-event count (Poisson: variance = mean), whose spread a few
        # seeds underestimate, so the Poisson variance is its floor.
        va, vb = (max(sa**2, ma), max(sb**2, mb)) if key == "dead" else (sa**2, sb**2)
        se = math.sqrt((va + vb) / len(a))
        ok = abs(ma - mb) <= max(3 * se, 0.02 * abs(mb))
        print(f"{key:<14}{ma:>14.4f} ± {sa:<6.4f}{mb:>14.4f} ± {sb:<6.4f}   "
              f"{'yes' if ok else 'NO'}")
    expected = statistics.fmean(r["tasks"] for r in ql) * P_FAIL**ATTEMPTS
    print(f"{'':<14}dead letters expected: tasks x {P_FAIL:g}^{ATTEMPTS} = {expected:.1f}")
    rate_ql = sum(r["tasks"] for r in ql) / sum(r["wall"] for r in ql)
    rate_sp = sum(r["tasks"] for r in sp) / sum(r["wall"] for r in sp)
    print(f"\ntasks simulated per {args.clock} second: QueueLab {rate_ql:,.0f}   "
          f"SimPy {rate_sp:,.0f}"
          f"   ratio {rate_ql / rate_sp:.1f}x (goal >= 10x, QueueLab with all metrics on)")
    short, long = peak_memory(args.duration), peak_memory(4 * args.duration)
    print(f"QueueLab peak traced memory: {short:.1f} MiB for {args.duration:g} s, "
          f"{long:.1f} MiB for {4 * args.duration:g} s (dead letters are the only growth)")


if __name__ == "__main__":
    main()
