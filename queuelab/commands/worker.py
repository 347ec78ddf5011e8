"""`queuelab worker --backend URL [--scenario FILE] [--workers N]`: workers only, no load.

Runs a pool of live workers against a durable backend that other processes fill - another
`queuelab run --engine live`, a tool, a test - until Ctrl-C or SIGTERM, which stop claiming
and let the tasks in hand finish (a second one hands them back at once). The scenario gives
the handler, retry, timeout, breaker, lease and pool knobs; `--workers N` asks for a fixed
pool of N. Several worker processes may serve one queue: claims and leases keep each task
with one worker at a time, and a worker killed outright loses nothing (its leases run out).
Nothing the queue holds is deleted unless `--purge` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from queuelab.commands.run import add_allow_handler_argument, add_purge_argument, handler_refused
from queuelab.core.engine import drive
from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.core.urls import redact_url
from queuelab.core.validation import ScenarioError, validate
from queuelab.io.scenario_files import load_scenario

if TYPE_CHECKING:
    from queuelab.runtime.engine import LiveEngine

EXIT_INVALID = 2
EXIT_FAILED = 1
REPORT_EVERY = 5.0  # wall seconds between two status lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", required=True,
                   help="Queue URL shared with the producers (sqlite:///file.db, "
                        "postgresql://…, redis://…, amqp://…).")
    p.add_argument("--scenario", type=Path,
                   help="Scenario TOML giving handler, retry, timeout, breaker and pool knobs.")
    p.add_argument("--workers", type=int, help="Run a fixed pool of N workers.")
    p.add_argument("--time-scale", type=float, dest="time_scale",
                   help="Wall seconds per scenario second (default: run.time_scale).")
    p.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    add_purge_argument(p)
    add_allow_handler_argument(p)
    p.set_defaults(func=_run)


def scenario_for(ns: argparse.Namespace) -> Scenario:
    s = load_scenario(ns.scenario) if ns.scenario else Scenario(name="Workers")
    s = replace(s, queue=replace(s.queue, backend=ns.backend))
    if ns.workers is not None:
        s = replace(s, pool=replace(s.pool, strategy="fixed", workers=ns.workers))
    if ns.time_scale is not None:
        s = replace(s, run=replace(s.run, time_scale=ns.time_scale))
    return validate(s)


def _run(ns: argparse.Namespace) -> int:
    try:
        scenario = scenario_for(ns)
    except ScenarioError as exc:
        print("queuelab worker: the settings are not valid:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_INVALID
    refused = handler_refused(scenario, ns)
    if refused:
        print(f"queuelab worker: {refused}", file=sys.stderr)
        return EXIT_INVALID
    if ns.backend.partition("://")[0].lower() == "memory":
        print("queuelab worker: memory:// lives inside one process; a worker process needs "
              "a queue it shares with its producers (sqlite, postgresql, redis, amqp)",
              file=sys.stderr)
        return EXIT_INVALID
    return asyncio.run(serve(scenario, quiet=ns.quiet, purge=ns.purge))


async def serve(scenario: Scenario, *, quiet: bool = False, purge: bool = False) -> int:
    """Work the queue until interrupted; the exit code."""
    from queuelab.commands.run import failure, on_interrupt, open_live_engine

    url = scenario.queue.backend
    shown = redact_url(url)
    engine = await open_live_engine("queuelab worker", scenario, produce=False,
                                    duration=math.inf, purge=purge, quiet=quiet)
    if engine is None:
        return EXIT_INVALID
    on_interrupt(engine)
    if not quiet:
        print(f"queuelab worker: {scenario.pool.strategy} pool on {shown}, time scale "
              f"{scenario.run.time_scale:g}; Ctrl-C to stop", flush=True)
    last = time.monotonic()

    def each(frames: list[MetricsFrame]) -> None:  # nobody plots them: they are dropped
        nonlocal last
        if not quiet and time.monotonic() - last >= REPORT_EVERY:
            last = time.monotonic()
            print(f"  {_status(engine)}", flush=True)

    try:
        await drive(engine, 0.2, each)
    except Exception as exc:
        print(f"queuelab worker: stopped by an error: {failure(exc, url)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await engine.aclose()
    if not quiet:
        print(f"queuelab worker: stopped; {_status(engine)}", flush=True)
    return 0


def _status(engine: LiveEngine) -> str:
    ctx = engine.context
    if ctx is None:
        return "nothing done yet"
    t = ctx.ledger
    return (f"done {t.done:,}, dead-lettered {t.dead:,}, retrying {t.retrying:,}, "
            f"in flight {t.in_flight:,}, handed back {t.handed_back:,}, workers "
            f"{len(engine.workers())}")
