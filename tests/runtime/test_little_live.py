"""Little's law on a live run: the live engine reports the time in system per event (tasks
entering at their enqueue, leaving at their ack, dead letter or drop), so the Theory tab's
readout holds for it too. Real timers jitter (a wake-up a few ms late is a fraction of a
scenario second at this time scale), so L and λW agree within a few percent here rather
than to rounding, as in the simulator (tests/sim/test_little.py)."""

from __future__ import annotations

import math

import pytest

from queuelab.core.segments import columns_of, measure
from tests.runtime.helpers import live, run_to_end, scenario


@pytest.mark.asyncio
async def test_l_against_lambda_w_on_a_live_run() -> None:
    s = scenario(run={"duration": 320.0, "warmup": 20.0, "time_scale": 0.025, "seed": 7},
                 arrivals={"rate": 2.8}, service={"mean": 1.0},
                 failures={"probability": 0.1}, retry={"max_attempts": 2, "base_delay": 1.0},
                 pool={"strategy": "fixed", "workers": 4})
    engine = live(s)
    frames = await run_to_end(engine)
    assert frames and math.isfinite(frames[-1].system_area)
    win = measure(columns_of(frames), 20.0)
    assert win is not None and win.departed > 500
    assert win.little_gap < 0.05, (win.l, win.admitted_rate * win.w)
    assert frames[-1].sojourn_sum > 0 and frames[-1].departed >= frames[-1].done
