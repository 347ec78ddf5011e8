"""The rate plot's dashed "offered λ(t)": the load the scenario's arrival process offers at
each frame's time, beside the arrivals measured, following the knobs in force."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from queuelab.core.engine import RunState
from queuelab.core.reference import offered_rate
from queuelab.core.timeline import TimelineEntry
from queuelab.gui.main_window import MainWindow
from queuelab.gui.plots import OFFERED_NAME

from .helpers import run_to_end, scenario, wait_until

pytestmark = pytest.mark.asyncio

SINE = {"process": "sine", "rate": 3.0, "amplitude": 2.0, "period": 600.0}


def _offered(w: MainWindow) -> tuple[Any, Any]:
    """The offered line as drawn: the whole run, unsmoothed."""
    w.plots.set_window(None)
    w.plots.redraw(force=True)
    (line,) = [c for c in w.plots.plots["throughput"].curves if c.series.column == "offered"]
    x, y = line.item.getData()
    assert x is not None and y is not None and x.size > 1
    return x, y


async def test_a_sine_scenario_draws_its_wave(window: MainWindow) -> None:
    w = window
    plot = w.plots.plots["throughput"]
    assert OFFERED_NAME not in plot.legend.names  # nothing run, nothing offered yet
    s = scenario(run={"duration": 1_200.0, "warmup": 0.0, "sample_interval": 1.0},
                 arrivals=SINE)
    w.set_scenario(s, None)
    await run_to_end(w)
    x, y = _offered(w)
    assert np.interp([150.0, 450.0, 750.0, 1_050.0], x, y) == pytest.approx(
        [5.0, 1.0, 5.0, 1.0], abs=0.01)
    assert y == pytest.approx(offered_rate(s, x))
    assert OFFERED_NAME in plot.legend.names
    # the arrivals measured follow it: their mean over each half wave is the line's
    arrivals = w.history.last("arrival_rate")
    t = w.history.last("t")
    crest, trough = (t % 600.0) < 300.0, (t % 600.0) >= 300.0
    assert arrivals[crest].mean() == pytest.approx(w.history.last("offered")[crest].mean(),
                                                   rel=0.1)
    assert arrivals[trough].mean() == pytest.approx(w.history.last("offered")[trough].mean(),
                                                    rel=0.15)


async def test_a_change_of_the_rate_moves_the_line_from_its_time_on(
        window: MainWindow) -> None:
    """arrivals.rate typed into the form mid-run: the wave is lifted from the change on; what
    was drawn before it stays where it was."""
    w = window
    s = scenario(run={"duration": 1_200.0, "warmup": 0.0, "sample_interval": 1.0},
                 arrivals=SINE)
    w.set_scenario(s, None)
    w.set_speed(100.0)
    w.toggle_run()
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.now > 200.0, what="a run past 200 s")
    w.toggle_run()  # paused
    changed_at = engine.now
    w.form.fields["arrivals.rate"].editor.box.setValue(6.0)  # type: ignore[attr-defined]
    assert [c.path for c in engine.changes] == ["arrivals.rate"]
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: engine.state == RunState.FINISHED, 30.0, "the run's end")
    x, y = _offered(w)
    after = replace(s, arrivals=replace(s.arrivals, rate=6.0))
    before_change = x < changed_at
    assert y[before_change] == pytest.approx(offered_rate(s, x[before_change]))
    assert y[~before_change] == pytest.approx(offered_rate(after, x[~before_change]))
    assert np.interp(750.0, x, y) == pytest.approx(8.0, abs=0.01)  # the crest, lifted


async def test_a_timeline_change_of_the_process_moves_it_too(window: MainWindow) -> None:
    """A timeline that turns the wave into a spike: the line steps to the spike's shape at
    the entry's time, whatever batch of frames the change fell in."""
    w = window
    s = replace(scenario(run={"duration": 900.0, "warmup": 0.0, "sample_interval": 1.0},
                         arrivals={**SINE, "at": 700.0, "extra": 10.0, "length": 60.0}),
                timeline=(TimelineEntry(at=400.0, path="arrivals.process", value="spike"),))
    w.set_scenario(s, None)
    await run_to_end(w)
    x, y = _offered(w)
    assert np.interp([150.0, 399.0], x, y) == pytest.approx(
        list(offered_rate(s, [150.0, 399.0])), abs=0.01)
    assert np.interp([401.0, 699.0, 730.0, 800.0], x, y) == pytest.approx(
        [3.0, 3.0, 13.0, 3.0], abs=0.01)


async def test_a_trace_is_called_a_density(window: MainWindow) -> None:
    w = window
    times = tuple(0.5 * k for k in range(1_200))
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 0.0},
                            arrivals={"process": "trace", "trace_times": times}), None)
    await run_to_end(w)
    x, y = _offered(w)
    names = w.plots.plots["throughput"].legend.names
    assert "trace density" in names and OFFERED_NAME not in names
    assert np.interp(300.0, x, y) == pytest.approx(2.0, rel=0.05)  # two a second
