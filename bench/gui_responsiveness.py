"""Does the window stay responsive while the simulator runs as fast as it can?

Opens the real main window (offscreen unless a display is set), runs a busy M/M/c scenario at
"max" speed for a while on the qasync loop, and prints: redraws per second, event-loop lag
(p99 and max, from a coroutine asking to wake every 5 ms and a 5-ms Qt timer), and tasks
simulated per wall second in the app next to the same scenario run headless (SimEngine
driven directly in the same slices). App and headless rounds alternate, so a machine busy
with other work slows both alike. Goals: >= 30 redraws/s, lag p99 < 50 ms, in-app >= 0.5x
headless.

    .venv/bin/python bench/gui_responsiveness.py [--seconds 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import replace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import qasync
from PySide6.QtCore import QSettings, Qt, QTimer

from queuelab.core.scenario import (
    ArrivalsConfig,
    PoolConfig,
    RunConfig,
    Scenario,
    ServiceConfig,
)
from queuelab.gui.app import make_app

PROBE_S = 0.005


def busy_scenario() -> Scenario:
    """1,000 tasks/s on 20 workers at 90 % utilization, long enough never to finish here."""
    return replace(
        Scenario(name="Busy M/M/20", description="Benchmark load: 1,000 tasks/s at ρ = 0.9."),
        run=RunConfig(duration=90_000.0, warmup=0.0),  # 9·10^7 tasks: under the task cap
        arrivals=ArrivalsConfig(process="poisson", rate=1000.0),
        service=ServiceConfig(distribution="exponential", mean=0.018),
        pool=PoolConfig(strategy="fixed", workers=20),
    )


class Headless:
    """The same scenario in SimEngine alone, advanced in the app's slice size."""

    def __init__(self, scenario: Scenario) -> None:
        from queuelab.sim.engine import SimEngine

        self.engine = SimEngine(scenario)
        self.engine.set_speed(None)
        self.engine.start()
        self.wall = 0.0

    def run(self, seconds: float, budget: float) -> None:
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            self.engine.advance(budget)
            self.engine.take_frames()
        self.wall += time.perf_counter() - began

    @property
    def rate(self) -> float:
        return self.engine.totals().created / self.wall


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def measure(seconds: float, rounds: int) -> dict[str, float]:
    """Alternate app and headless rounds, so a busy machine slows both alike."""
    from queuelab.core.engine import RunState
    from queuelab.gui.main_window import MainWindow
    from queuelab.gui.runner import BUDGET

    window = MainWindow(restore=False)
    window.resize(1400, 900)
    window.show()
    window.set_scenario(busy_scenario(), None)
    await asyncio.sleep(0.5)  # first paint and layout out of the way
    engine = window.runner.engine
    if engine is None:
        raise SystemExit(f"no engine: {window.last_error}")
    headless = Headless(busy_scenario())

    timer_lags: list[float] = []
    loop_lags: list[float] = []
    window.set_speed(None)
    app_wall = 0.0
    redraws = 0
    for _ in range(rounds):
        redraws0 = window.plots.redraws
        began = time.perf_counter()
        window.toggle_run()  # start or resume
        assert engine.state == RunState.RUNNING
        loop, timer = await probe(seconds)
        loop_lags += loop
        timer_lags += timer
        window.toggle_run()  # pause
        app_wall += time.perf_counter() - began
        redraws += window.plots.redraws - redraws0
        await asyncio.sleep(0.05)
        headless.run(seconds, BUDGET)
    result = {
        "wall": app_wall,
        "redraws_per_s": redraws / app_wall,
        "loop_lag_p99_ms": _percentile(loop_lags, 99) * 1000,
        "loop_lag_max_ms": max(loop_lags) * 1000,
        "timer_lag_p99_ms": _percentile(timer_lags, 99) * 1000,
        "timer_lag_max_ms": max(timer_lags) * 1000,
        "tasks_per_s": engine.totals().created / app_wall,
        "headless_per_s": headless.rate,
        "sim_seconds": engine.now,
        "engine_share": window.runner.wall_in_engine / app_wall,
    }
    window.close()
    await window.runner.shutdown()
    return result


async def probe(seconds: float) -> tuple[list[float], list[float]]:
    """Event-loop lag for `seconds`: an asyncio sleep and a Qt timer, each asking for 5 ms."""
    timer_lags: list[float] = []
    loop_lags: list[float] = []
    last = [time.perf_counter()]

    def on_timer() -> None:
        now = time.perf_counter()
        timer_lags.append(max(0.0, now - last[0] - PROBE_S))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(on_timer)
    timer.start(int(PROBE_S * 1000))
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        t0 = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        loop_lags.append(max(0.0, time.perf_counter() - t0 - PROBE_S))
    timer.stop()
    return loop_lags, timer_lags


async def measure_sweep(seconds: float) -> dict[str, float]:
    """The window idle, then the same window while its Tune tab runs a 200-point sweep."""
    from queuelab.gui.main_window import TAB_TUNE, MainWindow
    from queuelab.tuning.axes import Axis

    window = MainWindow(restore=False)
    window.resize(1400, 900)
    window.show()
    window.set_scenario(replace(Scenario(), run=RunConfig(duration=900.0, warmup=60.0)), None)
    window.tabs.setCurrentIndex(TAB_TUNE)
    await asyncio.sleep(0.5)
    idle_loop, idle_timer = await probe(seconds)
    tune = window.tune
    tune.add_axis(Axis("pool.workers", tuple(range(1, 21))))
    tune.add_axis(Axis("arrivals.rate", tuple(float(r) for r in range(1, 11))))
    tune.seeds.setValue(1)
    tune.confirm_long = lambda sweep, s: sweep  # type: ignore[assignment,misc]
    began = time.perf_counter()
    tune.start()
    loop, timer = await probe(seconds)
    points_in_probe = len(tune.points)
    while tune.sweep_thread is not None and len(tune.points) < 200:
        await asyncio.sleep(0.05)
    sweep_wall = time.perf_counter() - began
    tune.stop()
    await asyncio.sleep(0.2)
    redraws = []
    for _ in range(10):
        t0 = time.perf_counter()
        tune.redraw()
        tune.chart.repaint()
        redraws.append(time.perf_counter() - t0)
    result = {
        "idle_loop_p99_ms": _percentile(idle_loop, 99) * 1000,
        "idle_timer_p99_ms": _percentile(idle_timer, 99) * 1000,
        "loop_p99_ms": _percentile(loop, 99) * 1000,
        "timer_p99_ms": _percentile(timer, 99) * 1000,
        "loop_max_ms": max(loop) * 1000,
        "timer_max_ms": max(timer) * 1000,
        "points_in_probe": points_in_probe,
        "points": len(tune.points),
        "sweep_wall": sweep_wall,
        "redraw_ms": _percentile(redraws, 50) * 1000,
        "redraw_max_ms": max(redraws) * 1000,
    }
    window.close()
    await window.runner.shutdown()
    return result


def main_sweep(seconds: float) -> int:
    r = qasync.run(measure_sweep(seconds))
    lag = max(r["loop_p99_ms"], r["timer_p99_ms"])
    print(f"QueueLab GUI responsiveness during a sweep: 200 points x 1 seed on "
          f"{os.cpu_count()} cores, {r['points_in_probe']:.0f} points drawn during the "
          f"{seconds:.0f} s probe, {r['points']:.0f} in {r['sweep_wall']:.1f} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    rows = [
        ("event-loop lag p99, idle (asyncio / Qt timer)",
         f"{r['idle_loop_p99_ms']:.1f} / {r['idle_timer_p99_ms']:.1f} ms", "", True),
        ("event-loop lag p99, sweep running (asyncio / Qt timer)",
         f"{r['loop_p99_ms']:.1f} / {r['timer_p99_ms']:.1f} ms", "< 50 ms", lag < 50),
        ("event-loop lag max, sweep running",
         f"{r['loop_max_ms']:.1f} / {r['timer_max_ms']:.1f} ms", "", True),
        ("Tune chart redraw of 200 points (median / max)",
         f"{r['redraw_ms']:.1f} / {r['redraw_max_ms']:.1f} ms", "", True),
    ]
    width = max(len(c[0]) for c in rows)
    for name, value, goal, ok in rows:
        verdict = "" if not goal else ("ok" if ok else "MISSED")
        print(f"  {name:<{width}}  {value:>18}  {goal:>8}  {verdict}")
    return 0 if all(c[3] for c in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="in the app, in all")
    ap.add_argument("--rounds", type=int, default=5,
                    help="app and headless alternate this many times")
    ap.add_argument("--sweep", action="store_true",
                    help="the window's lag while a sweep runs on every core")
    args = ap.parse_args()
    QSettings.setPath(
        QSettings.Format.IniFormat,
        QSettings.Scope.UserScope,
        tempfile.mkdtemp(prefix="queuelab-bench-"),
    )
    make_app([])
    if args.sweep:
        return main_sweep(args.seconds)
    r = qasync.run(measure(args.seconds / args.rounds, args.rounds))
    headless = r["headless_per_s"]
    ratio = r["tasks_per_s"] / headless
    lag_p99 = max(r["loop_lag_p99_ms"], r["timer_lag_p99_ms"])
    checks = [
        ("redraws/s", f"{r['redraws_per_s']:.1f}", ">= 30", r["redraws_per_s"] >= 30),
        (
            "event-loop lag p99 (asyncio / Qt timer)",
            f"{r['loop_lag_p99_ms']:.1f} / {r['timer_lag_p99_ms']:.1f} ms",
            "< 50 ms",
            lag_p99 < 50,
        ),
        (
            "event-loop lag max (asyncio / Qt timer)",
            f"{r['loop_lag_max_ms']:.1f} / {r['timer_lag_max_ms']:.1f} ms",
            "",
            True,
        ),
        ("tasks simulated per wall second, in app", f"{r['tasks_per_s']:,.0f}", "", True),
        ("tasks simulated per wall second, headless", f"{headless:,.0f}", "", True),
        ("in app / headless", f"{ratio:.2f}x", ">= 0.5x", ratio >= 0.5),
    ]
    print(
        f"QueueLab GUI responsiveness: {busy_scenario().name}, max speed, "
        f"{r['wall']:.1f} s wall, {r['sim_seconds']:,.0f} s simulated, "
        f"platform {os.environ.get('QT_QPA_PLATFORM')}, engine share of wall time "
        f"{r['engine_share']:.0%}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    width = max(len(c[0]) for c in checks)
    for name, value, goal, ok in checks:
        verdict = "" if not goal else ("ok" if ok else "MISSED")
        print(f"  {name:<{width}}  {value:>18}  {goal:>8}  {verdict}")
    return 0 if all(c[3] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
