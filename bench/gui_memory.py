"""Does the window's memory stay flat over a long run?

Opens the real main window (offscreen), runs a scenario for 24 simulated hours at one frame
per second as fast as possible, with the plots redrawing as usual, and samples the resident
set size (psutil) every simulated hour. The frame history is a fixed-size ring (taken in full
when the window is built) plus a folded whole-run copy of fixed size, so RSS must stay flat
whatever the run's length; the figures are printed per hour and summed up at the end.

    .venv/bin/python bench/gui_memory.py [--hours 24] [--rate 3.2]
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

import psutil
import qasync
from PySide6.QtCore import QSettings

from queuelab.core.scenario import ArrivalsConfig, PoolConfig, RunConfig, Scenario
from queuelab.gui.app import make_app

MB = 1024 * 1024


def long_scenario(hours: float, rate: float) -> Scenario:
    return replace(
        Scenario(name=f"{hours:g} hours", description="Memory benchmark"),
        run=RunConfig(duration=hours * 3600.0, warmup=60.0, sample_interval=1.0),
        arrivals=ArrivalsConfig(process="poisson", rate=rate),
        pool=PoolConfig(strategy="fixed", workers=4),
    )


async def run(hours: float, rate: float) -> list[tuple[float, float, int, float]]:
    from queuelab.core.engine import RunState
    from queuelab.gui.main_window import MainWindow

    proc = psutil.Process()
    window = MainWindow(restore=False)
    window.resize(1400, 900)
    window.show()
    window.set_scenario(long_scenario(hours, rate), None)
    await asyncio.sleep(0.3)
    engine = window.runner.engine
    assert engine is not None
    samples = [(0.0, proc.memory_info().rss / MB, 0, 0.0)]
    began = time.perf_counter()
    window.set_speed(None)
    window.toggle_run()
    next_hour = 3600.0
    while engine.state != RunState.FINISHED:
        await asyncio.sleep(0.02)
        if engine.now >= next_hour or engine.state == RunState.FINISHED:
            samples.append((engine.now / 3600.0, proc.memory_info().rss / MB,
                            len(window.history), time.perf_counter() - began))
            next_hour += 3600.0
    window.close()
    await window.runner.shutdown()
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=3.2, help="arrivals per second")
    args = ap.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="queuelab-bench-"))
    make_app([])
    samples = qasync.run(run(args.hours, args.rate))
    print(f"QueueLab GUI memory: {args.hours:g} simulated hours at 1 frame/s, "
          f"{args.rate:g} tasks/s, max speed, platform {os.environ.get('QT_QPA_PLATFORM')}")
    print(f"  {'sim hour':>8}  {'RSS MB':>8}  {'frames held':>11}  {'wall s':>7}")
    for hour, rss, held, wall in samples:
        print(f"  {hour:8.1f}  {rss:8.1f}  {held:11,}  {wall:7.1f}")
    after_first = [s for s in samples if s[0] >= 1.0]
    lo, hi = min(s[1] for s in after_first), max(s[1] for s in after_first)
    growth = after_first[-1][1] - after_first[0][1]
    print(f"  RSS from hour 1 to the end: min {lo:.1f} MB, max {hi:.1f} MB, "
          f"growth {growth:+.1f} MB ({growth / max(1.0, args.hours - 1):+.2f} MB per hour)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
