"""Callers that give up (`[clients]`) in the window: goodput beside the completions once the
two differ, and the callers' knobs in the scenario form."""

from __future__ import annotations

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
    assert "goodput" not in plot.legend.names  # nobody gave up: it would hide completions
    w.set_scenario(scenario(run={"duration": 300.0, "warmup": 0.0}, arrivals={"rate": 6.0},
                            clients={"timeout": 2.0, "retries": 2}), None)
    await run_to_end(w)
    w.plots.redraw(force=True)
    assert "goodput" in plot.legend.names
    (curve,) = [c for c in plot.curves if c.series.column == "goodput"]
    assert curve.item.xData is not None and len(curve.item.xData) > 0


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
