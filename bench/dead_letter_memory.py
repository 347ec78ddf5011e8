"""Does a simulated run's memory stay flat under endless poison traffic?

A week of poison pills (every task fails every attempt and is dead-lettered), run in
virtual time day by day, sampling the resident set size (psutil) after each simulated day.
The simulator's dead-letter store keeps only the newest `core.limits.DEAD_LETTERS_KEPT`
records and counts the rest (`sim/dead_letters.py`), so RSS must stay flat however many
die; before that bound a day at 50/s held 4.3 million of them (3.4 GB). The rate is
lowered from the issue's 50/s so the week runs in a minute or two; the store's bound is
reached within the first simulated hour either way.

    .venv/bin/python bench/dead_letter_memory.py [--days 7] [--rate 5]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import psutil

from queuelab.core.scenario import (
    ArrivalsConfig,
    FailuresConfig,
    PoolConfig,
    RetryConfig,
    RunConfig,
    Scenario,
    ServiceConfig,
)
from queuelab.sim.engine import SimEngine

MB = 1024 * 1024
DAY = 86_400.0


def poison_week(days: float, rate: float) -> Scenario:
    return replace(
        Scenario(name=f"{days:g} days of poison", description="Memory benchmark"),
        run=RunConfig(duration=days * DAY, warmup=0.0, sample_interval=60.0),
        arrivals=ArrivalsConfig(process="poisson", rate=rate),
        service=ServiceConfig(distribution="constant", mean=0.01),
        failures=FailuresConfig(poison_fraction=1.0),
        retry=RetryConfig(max_attempts=1),
        pool=PoolConfig(strategy="fixed", workers=4),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--rate", type=float, default=5.0, help="poison tasks per second")
    ns = parser.parse_args()
    proc = psutil.Process()
    engine = SimEngine(poison_week(ns.days, ns.rate))
    engine.start()
    started = time.perf_counter()
    rss = [proc.memory_info().rss / MB]
    print(f"day 0: RSS {rss[0]:.1f} MB")
    day = 0
    while engine.state.value != "finished":
        day += 1
        engine.run_until(day * DAY)
        engine.take_frames()
        rss.append(proc.memory_info().rss / MB)
        totals = engine.totals()
        assert totals.balanced, totals
        print(f"day {day}: RSS {rss[-1]:.1f} MB   dead-lettered {totals.dead_lettered:,} "
              f"(held {totals.dead_lettered - engine.dead.forgotten:,})   "
              f"wall {time.perf_counter() - started:.0f} s")
    print(f"RSS after day 1 {rss[1]:.1f} MB, after day {day} {rss[-1]:.1f} MB "
          f"(growth {rss[-1] - rss[1]:+.1f} MB over {day - 1} days, "
          f"{engine.totals().dead_lettered:,} dead letters)")


if __name__ == "__main__":
    main()
