"""The live engine plays the callers' rule (`[clients]`, `core.clients`) as the simulator
does: on a real (memory) queue in fast time, callers time out, retry and give up in the
same ballpark, and the books balance at every frame with the abandoned term."""

from __future__ import annotations

import pytest

from queuelab.core.scenario import Scenario
from queuelab.core.validation import ParamChange
from queuelab.sim.engine import SimEngine
from tests.runtime.helpers import live, run_to_end, scenario


def overloaded(**clients: object) -> Scenario:
    """6 arrivals/s on 4/s of capacity: tasks soon wait past the callers' 2 s."""
    return scenario(run={"duration": 60.0, "warmup": 0.0, "time_scale": 0.02, "seed": 4},
                    arrivals={"rate": 6.0}, service={"mean": 0.5}, pool={"workers": 2},
                    retry={"base_delay": 0.5, "max_delay": 2.0},
                    clients={"timeout": 2.0, "retries": 2, **clients})


def close(live_value: float, sim_value: float) -> bool:
    """The same ballpark: within 30 % (a live run's timers are late by a little, and a
    task's fate depends on which side of its caller's deadline its start falls)."""
    return abs(live_value - sim_value) <= 0.3 * sim_value


@pytest.mark.asyncio
@pytest.mark.parametrize("drop", [False, True])
async def test_live_callers_abandon_and_retry_as_simulated(drop: bool) -> None:
    s = overloaded(drop_expired=drop)
    engine = live(s)
    frames = await run_to_end(engine)  # balanced at every frame, audits clean
    totals = engine.totals().check()
    got = engine.summary().extras
    sim = SimEngine(s)
    sim.run()
    want = sim.summary().extras
    for key in ("client_timeouts", "client_retries", "gave_up"):
        assert want[key] > 20, (key, want)
        assert close(got[key], want[key]), (key, got, want)
    assert got["client_timeouts"] >= got["client_retries"] + got["gave_up"]
    assert frames[-1].client_retries == got["client_retries"]
    if drop:
        assert totals.abandoned > 10 and close(totals.abandoned, sim.totals().abandoned)
        assert got["wasted_work"] == 0.0
    else:
        assert totals.abandoned == 0 and got["wasted_work"] > 0.0
        assert sum(f.goodput for f in frames) < sum(f.throughput for f in frames)


@pytest.mark.asyncio
async def test_live_clients_knobs_change_while_running() -> None:
    s = overloaded(timeout=0.0)
    engine = live(s)
    engine.start()
    engine.apply(ParamChange("clients.timeout", 2.0))
    engine.apply(ParamChange("clients.retry_budget", 0.1))
    await run_to_end(engine)
    got = engine.summary().extras
    assert got["client_timeouts"] > 20
    fresh = engine.totals().created - got["client_retries"]
    assert 0 < got["client_retries"] <= 0.1 * fresh + 10
