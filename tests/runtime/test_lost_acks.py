"""A completion is counted once, when the backend takes its ack; a lost ack is what it is.

The lease is forced to run out under a worker: the queue renews nothing (a backend may keep
the old lease, `TaskQueue.extend`), and task 1's first attempt outlasts it. Another worker
is handed the task and completes it; the first one's ack then finds its receipt void.
"""

from __future__ import annotations

import asyncio

import pytest

from queuelab.backends.base import Delivery
from queuelab.backends.memory import MemoryQueue
from queuelab.core.engine import RunState
from queuelab.core.scenario import KNOBS
from queuelab.core.validation import ScenarioError
from queuelab.runtime.context import MIN_WALL_LEASE
from queuelab.runtime.engine import LiveEngine
from tests.runtime.helpers import run_to_end, scenario


class NoRenewals(MemoryQueue):
    """A memory queue whose leases are never renewed (as a backend without heartbeats)."""

    async def extend(self, delivery: Delivery, lease: float) -> None:
        return None


@pytest.mark.asyncio
async def test_a_lost_ack_is_counted_as_lost_never_as_a_second_completion() -> None:
    # lease 2 s x 0.1 = 0.2 s of wall time; task 1's first attempt takes 0.6 s
    s = scenario(run={"duration": 20.0, "warmup": 0.0, "time_scale": 0.1},
                 arrivals={"process": "constant", "rate": 1.0},
                 service={"handler": "tests.runtime.handlers_for_tests:slow_first_attempt"},
                 queue={"lease": 2.0}, pool={"workers": 2})
    engine = LiveEngine(s, NoRenewals(), drain_limit=20.0)
    engine.start()
    while engine.state is not RunState.FINISHED:
        await asyncio.sleep(0.01)
        engine.totals().check()
    await engine.wait()
    # (the audits rightly report the lease that ran out under its worker: not checked here)
    totals = engine.totals().check()
    ledger = engine.context.ledger  # type: ignore[union-attr]
    assert ledger.acks_lost == 1  # task 1's first worker: its ack came too late
    assert totals.done + totals.waiting == totals.created  # task 1 done once, by its next worker
    assert engine.summary().completed == totals.done  # not one more


@pytest.mark.asyncio
async def test_a_lease_has_a_floor_the_backend_can_honour() -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(queue={"lease": 1e-9})
    assert [e.path for e in caught.value.errors] == ["queue.lease"]
    assert f"{MIN_WALL_LEASE:g} s of wall time" in KNOBS["queue.lease"].knob.help
    # a valid lease that the time scale makes shorter than the floor is lengthened to it
    s = scenario(queue={"lease": 1.0}, run={"duration": 10.0, "warmup": 0.0,
                                             "time_scale": 0.001})
    engine = LiveEngine(s, MemoryQueue())
    await run_to_end(engine)
    assert engine.clock.wall(1.0) < MIN_WALL_LEASE
    assert engine.context.wall_lease == MIN_WALL_LEASE  # type: ignore[union-attr]
