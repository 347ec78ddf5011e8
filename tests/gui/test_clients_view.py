"""Callers that give up (`[clients]`) in the window: goodput and the callers' timeouts per
second beside the completions once callers time out, and the callers' knobs in the form."""

from __future__ import annotations

import numpy as np
import pytest

from queuelab.core.engine import RunState
from queuelab.gui.main_window import MainWindow

from .helpers import run_to_end, scenario, wait_until

pytestmark = pytest.mark.asyncio


async def test_goodput_is_drawn_beside_throughput_once_callers_give_up(
        window: MainWindow) -> None:
    w = window
    plot = w.plots.plots["throughput"]
    w.set_scenario(scenario(run={"duration": 300.0, "warmup": 0.0}), None)
    await run_to_end(w)
    w.plots.redraw(force=True)
    assert "completions" in plot.legend.names
    # nobody gave up: the callers' curves would only hide the completions
    assert "goodput" not in plot.legend.names and "caller timeouts" not in plot.legend.names
    w.set_scenario(scenario(run={"duration": 300.0, "warmup": 0.0}, arrivals={"rate": 6.0},
                            clients={"timeout": 2.0, "retries": 2}), None)
    await run_to_end(w)
    w.plots.redraw(force=True)
    assert "goodput" in plot.legend.names and "caller timeouts" in plot.legend.names
    (curve,) = [c for c in plot.curves if c.series.column == "goodput"]
    assert curve.item.xData is not None and len(curve.item.xData) > 0
    (timeouts,) = [c for c in plot.curves if c.series.column == "client_timeouts"]
    engine = w.runner.engine
    assert engine is not None and timeouts.item.yData is not None
    # drawn as a rate: the run's timeouts spread over its seconds, not their running count
    drawn = float(np.nanmax(timeouts.item.yData))
    total = engine.summary().extras["client_timeouts"]
    assert 0 < drawn < total / 10


async def test_the_form_sets_the_callers_timeout_while_running(window: MainWindow) -> None:
    """A knob of `[clients]` typed into the form mid-run reaches the engine's callers."""
    w = window
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 0.0}, arrivals={"rate": 6.0}),
                   None)
    w.set_speed(50.0)
    w.toggle_run()
    await wait_until(lambda: w.runner.engine is not None and w.runner.engine.now > 10.0,
                     what="a running engine")
    w.toggle_run()  # paused
    box = w.form.fields["clients.timeout"].editor.box  # type: ignore[attr-defined]
    box.setValue(2.0)  # as typed: the spin box reports the edit
    engine = w.runner.engine
    assert engine is not None
    assert engine.scenario.clients.timeout == 2.0
    assert [c.path for c in engine.changes][-1:] == ["clients.timeout"]
    assert engine.state is RunState.PAUSED
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: engine.state is RunState.FINISHED, 30.0, "the run's end")
    assert engine.summary().extras["client_timeouts"] > 0
