"""Both engines answer the whole `Engine` contract, and `drive` runs either to its end."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import replace

from queuelab.core.engine import Engine, RunState, drive
from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.runtime.engine import LiveEngine
from queuelab.sim.engine import SimEngine

BASE = Scenario()
# a memory queue of this test's own: a named one lives on in the process after the run
SHORT = replace(BASE, run=replace(BASE.run, duration=20.0, warmup=0.0, sample_interval=1.0,
                                  time_scale=0.01),
                queue=replace(BASE.queue, backend=f"memory://contract-{os.getpid()}-"
                              f"{secrets.token_hex(4)}"))


def contract() -> set[str]:
    names = {n for n in vars(Engine) if not n.startswith("_")}
    return names | set(Engine.__annotations__)


def test_every_member_of_the_contract_is_there_in_both_engines() -> None:
    """What a caller may ask of an engine is in the protocol, so it never has to guess with
    getattr or hasattr (and mypy checks the callers against the protocol)."""
    members = contract()
    assert {"open", "opened", "aclose", "run_slice", "wait", "reference",
            "audit_failures", "notices"} <= members
    for engine in (SimEngine(SHORT), LiveEngine(SHORT)):
        missing = {n for n in members if not hasattr(engine, n)}
        assert not missing, (engine.kind, missing)


def test_drive_runs_either_engine_to_its_end() -> None:
    async def run(engine: Engine) -> list[MetricsFrame]:
        frames: list[MetricsFrame] = []
        try:
            await drive(engine, 0.05, frames.extend)
        finally:
            await engine.aclose()
        return frames

    sim = SimEngine(SHORT)
    assert sim.opened and sim.audit_failures == ()
    sim_frames = asyncio.run(run(sim))
    live = LiveEngine(SHORT)
    assert not live.opened
    live_frames = asyncio.run(run(live))
    assert [f.t for f in sim_frames] == [float(k) for k in range(1, 21)]
    # a live frame closes when the loop gets to it, and one may close for two intervals
    times = [f.t for f in live_frames]
    assert times and times == sorted(times) and times[0] >= 1.0
    for engine in (sim, live):
        assert engine.state is RunState.FINISHED
        engine.totals().check()
        assert engine.reference() is not None  # the default scenario is M/M/c
    assert live.audit_failures == [] and not live.opened  # closed by aclose
