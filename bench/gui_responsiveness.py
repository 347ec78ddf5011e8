"""Does the window stay responsive while the simulator runs as fast as it can?

Opens the real main window (offscreen unless a display is set), runs a busy M/M/c scenario at
"max" speed for a while on the qasync loop, and prints: redraws per second, event-loop lag
(p99 and max, from a coroutine asking to wake every 5 ms and a 5-ms Qt timer), and tasks
simulated per wall second in the app next to the same scenario run headless (SimEngine
driven directly in the same slices). Goals: >= 30 redraws/s, lag p99 < 50 ms, in-app >= 0.5x
headless.

    .venv/bin/python bench/gui_responsiveness.py [--seconds 10]
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
        run=RunConfig(duration=10_000_000.0, warmup=0.0),
        arrivals=ArrivalsConfig(process="poisson", rate=1000.0),
        service=ServiceConfig(distribution="exponential", mean=0.018),
        pool=PoolConfig(strategy="fixed", workers=20),
    )


def headless_rate(scenario: Scenario, seconds: float, budget: float) -> float:
    """Tasks created per wall second by SimEngine alone, advanced in the app's slice size."""
    from queuelab.sim.engine import SimEngine

    engine = SimEngine(scenario)
    engine.set_speed(None)
    engine.start()
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        engine.advance(budget)
        engine.take_frames()
    return engine.totals().created / (time.perf_counter() - began)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def in_app(seconds: float) -> dict[str, float]:
    from queuelab.gui.main_window import MainWindow

    window = MainWindow(restore=False)
    window.resize(1400, 900)
    window.show()
    window.set_scenario(busy_scenario(), None)
    await asyncio.sleep(0.5)  # first paint and layout out of the way

    timer_lags: list[float] = []
    last = [time.perf_counter()]

    def on_timer() -> None:
        now = time.perf_counter()
        timer_lags.append(max(0.0, now - last[0] - PROBE_S))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(on_timer)

    window.set_speed(None)
    redraws0 = window.plots.redraws
    began = time.perf_counter()
    window.toggle_run()
    timer.start(int(PROBE_S * 1000))
    last[0] = time.perf_counter()
    loop_lags: list[float] = []
    while time.perf_counter() - began < seconds:
        t0 = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        loop_lags.append(max(0.0, time.perf_counter() - t0 - PROBE_S))
    wall = time.perf_counter() - began
    timer.stop()
    engine = window.runner.engine
    assert engine is not None
    created = engine.totals().created
    result = {
        "wall": wall,
        "redraws_per_s": (window.plots.redraws - redraws0) / wall,
        "loop_lag_p99_ms": _percentile(loop_lags, 99) * 1000,
        "loop_lag_max_ms": max(loop_lags) * 1000,
        "timer_lag_p99_ms": _percentile(timer_lags, 99) * 1000,
        "timer_lag_max_ms": max(timer_lags) * 1000,
        "tasks_per_s": created / wall,
        "sim_seconds": engine.now,
        "engine_share": window.runner.wall_in_engine / wall,
        "budget": window.runner.budget,
    }
    window.close()
    await window.runner.shutdown()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    QSettings.setPath(
        QSettings.Format.IniFormat,
        QSettings.Scope.UserScope,
        tempfile.mkdtemp(prefix="queuelab-bench-"),
    )
    make_app([])
    r = qasync.run(in_app(args.seconds))
    headless = headless_rate(busy_scenario(), args.seconds, r["budget"])
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
        f"{r['engine_share']:.0%}"
    )
    width = max(len(c[0]) for c in checks)
    for name, value, goal, ok in checks:
        verdict = "" if not goal else ("ok" if ok else "MISSED")
        print(f"  {name:<{width}}  {value:>18}  {goal:>8}  {verdict}")
    return 0 if all(c[3] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
