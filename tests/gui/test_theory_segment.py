"""The Theory tab after a change: the prediction for the knobs now, measured over the segment
since the change (its warm-up skipped, and said), with Little's law over the same window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from queuelab.core.engine import RunState
from queuelab.core.theory import erlang_c, mmck
from queuelab.core.timeline import TimelineEntry
from queuelab.gui.main_window import TAB_THEORY, TAB_WAITS, MainWindow

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio


async def _run(w: MainWindow) -> None:
    w.tabs.setCurrentIndex(TAB_THEORY)
    w.set_speed(None)
    w.toggle_run()
    assert w.runner.engine is not None
    await wait_until(lambda: w.runner.engine.state == RunState.FINISHED)  # type: ignore[union-attr]
    w.refresh()
    w.theory.refresh(w.runner.engine, w.history)  # (the tab refreshes at its own pace)


async def test_after_a_timeline_change_the_tab_measures_the_segment(window: MainWindow) -> None:
    """Four workers, then five from 3,000 s on: the tab predicts M/M/c for c = 5 and measures
    since the change, skipping 5τ of the new load; the whole run would mix two loads."""
    w = window
    base = scenario(run={"duration": 20_000.0, "warmup": 120.0},
                    arrivals={"process": "poisson", "rate": 3.2},
                    service={"distribution": "exponential", "mean": 1.0},
                    pool={"strategy": "fixed", "workers": 4})
    w.set_scenario(replace(base, timeline=(
        TimelineEntry(at=3_000.0, path="pool.workers", value=5, label="one more worker"),)), None)
    await _run(w)
    pane = w.theory
    assert pane.table.horizontalHeaderItem(0).text() == "Erlang C (M/M/c, c = 5)"
    ref = erlang_c(3.2, 1.0, 5)
    assert pane.table.item(4, 0).text() == f"{ref.wq:,.4g} s"
    text = pane.segment.text()
    assert "since the change at 3,000 s (Workers 4 → 5)" in text
    assert "excluded as warm-up (5τ, τ = " in text
    win = pane.measured
    assert win is not None and win.start > 3_000.0 and win.end == 20_000.0
    assert abs(win.wq - ref.wq) <= 2 * win.wq_ci95
    assert "Little's law</b> over this window: L = " in pane.little.text()
    assert win.little_gap < 0.01
    assert "Beyond Erlang C</b> (for this segment's knobs)" in pane.beyond.text()
    assert "timeline" not in pane.beyond.text()  # within a segment nothing changes


async def test_a_bounded_queue_after_a_change_is_held_to_mmck(window: MainWindow) -> None:
    w = window
    base = scenario(run={"duration": 20_000.0, "warmup": 200.0},
                    arrivals={"process": "poisson", "rate": 1.5},
                    service={"distribution": "exponential", "mean": 1.0},
                    pool={"strategy": "fixed", "workers": 2}, queue={"max_length": 3})
    w.set_scenario(replace(base, timeline=(
        TimelineEntry(at=2_000.0, path="arrivals.rate", value=2.5, label="busier"),)), None)
    await _run(w)
    pane = w.theory
    want = mmck(2.5, 1.0, 2, 5)
    assert pane.table.horizontalHeaderItem(0).text() == "M/M/c/K (c = 2, K = 5)"
    assert pane.table.item(7, 0).text() == f"{want.p_block * 100:,.4g} %"
    win = pane.measured
    assert win is not None and win.start > 2_000.0
    assert win.p_block == pytest.approx(want.p_block, abs=0.02)
    assert win.admitted_rate == pytest.approx(want.admitted_rate, rel=0.03)
    assert win.l == pytest.approx(want.l, rel=0.05)
    assert "M/M/c/K with λ = 2.5/s offered" in pane.headline.text()


async def test_the_running_means_meet_the_theory_lines(window: MainWindow) -> None:
    """View ▸ Running means: each plot with a theory line draws the mean since the segment's
    start beside its raw frames; on a steady M/M/c run the mean wait ends where the Theory
    tab's measured Wq is, near Erlang C's dashed line."""
    w = window
    w.set_scenario(scenario(run={"duration": 3_600.0, "warmup": 120.0},
                            arrivals={"process": "poisson", "rate": 3.2},
                            service={"distribution": "exponential", "mean": 1.0},
                            pool={"strategy": "fixed", "workers": 4}), None)
    assert not w.plots.running_shown
    w.running_action.trigger()
    assert w.running_action.isChecked() and w.plots.running_shown
    await _run(w)
    w.tabs.setCurrentIndex(TAB_WAITS)
    w.plots.set_window(None)  # the whole run
    w.plots.redraw(force=True)
    curves = {c.series.column: c.item for p in w.plots.plots.values() for c in p.curves}
    x, y = curves["run_wq"].getData()
    assert x is not None and y is not None
    assert x[np.isfinite(y)][0] > 120.0  # nothing during the warm-up
    win = w.theory.measured
    assert win is not None
    assert y[-1] == pytest.approx(win.wq, rel=1e-3)  # (the drawn rows are decimated: the
    # last is of the last few frames, over which the mean of an hour barely moves)
    assert abs(y[-1] - erlang_c(3.2, 1.0, 4).wq) <= 2 * win.wq_ci95
    _, ref = curves["ref_wq"].getData()
    assert ref is not None and np.nanmax(ref) == pytest.approx(erlang_c(3.2, 1.0, 4).wq)
    _, util = curves["run_utilization"].getData()  # on the stacked plots, in percent
    assert util is not None and util[-1] == pytest.approx(win.utilization * 100, rel=1e-3)
    legend = w.plots.wait_plot.legend.names
    assert "mean, running" in legend and "theory mean Wq" in legend
    w.running_action.trigger()  # off: the curves go, and their legend entries
    w.plots.redraw(force=True)
    assert curves["run_wq"].getData()[0] is None or curves["run_wq"].getData()[0].size == 0
    assert "mean, running" not in w.plots.wait_plot.legend.names


async def test_the_theory_lines_change_with_the_frames_a_change_cuts(window: MainWindow) -> None:
    """At max speed the frames come in batches that a timeline's change falls inside: every
    frame carries the theory of the knobs in force at its own time, not of those in force
    when its batch arrived (ρ stepped up to a batch late)."""
    w = window
    base = scenario(run={"duration": 3_000.0, "warmup": 0.0},
                    arrivals={"process": "poisson", "rate": 3.0},
                    service={"distribution": "exponential", "mean": 1.0},
                    pool={"strategy": "fixed", "workers": 5})
    timeline = tuple(TimelineEntry(at=float(at), path="pool.workers", value=workers)
                     for at, workers in ((500, 4), (1_200, 6), (2_100, 4)))
    w.set_scenario(replace(base, timeline=timeline), None)
    await _run(w)
    t, rho = w.history.last("t"), w.history.last("ref_rho")
    assert t.size > 2_500
    workers = np.select([t <= 500, t <= 1_200, t <= 2_100], [5, 4, 6], 4)
    np.testing.assert_allclose(rho, 3.0 / workers)
