"""What a new user meets in the window: controls that say what they do, plots that can be
read, and a layout that holds at 1024×700. Each test is one thing that once got in the way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from queuelab.core.engine import AppliedChange, RunState
from queuelab.core.validation import ParamChange
from queuelab.gui.history import FrameHistory, Growth
from queuelab.gui.main_window import TAB_WORKERS, MainWindow, proposed_time_scale
from queuelab.gui.plot_items import ValueAxis, trailing_mean, trailing_sum
from queuelab.gui.plots import DEFAULT_WINDOW, LABEL_ROWS, PlotPanel
from queuelab.sim.engine import SimEngine

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio


def _engine(w: MainWindow) -> SimEngine:
    assert w.runner.engine is not None
    return w.runner.engine  # type: ignore[return-value]


async def _run_to_end(w: MainWindow, timeout: float = 30.0) -> None:
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: _engine(w).state == RunState.FINISHED, timeout, "the run's end")


# -- controls ----------------------------------------------------------------------------------

async def test_the_window_selector_says_what_the_plots_show(window: MainWindow) -> None:
    w = window
    assert w.controls.window_box.currentData() == DEFAULT_WINDOW == w.plots.span
    w.controls.window_box.setCurrentIndex(0)
    w.controls.window_box.activated.emit(0)
    assert w.plots.span == w.controls.window_box.currentData() == 60.0


async def test_a_young_run_fills_the_plots_and_grows_to_the_window(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 3600.0, "warmup": 0.0}), None)
    w.set_speed(100.0)
    w.toggle_run()
    await wait_until(lambda: _engine(w).now >= 60.0, what="a minute of run")
    w.toggle_run()
    w.plots.redraw(force=True)
    (x0, x1), _ = w.plots._first.getViewBox().viewRange()
    assert x0 == 0.0 and x1 < DEFAULT_WINDOW / 4, "the first minute spans the plot"
    assert x1 >= _engine(w).now
    w.toggle_run()
    await wait_until(lambda: _engine(w).now >= DEFAULT_WINDOW + 100, 30.0, "past the window")
    w.toggle_run()
    w.plots.redraw(force=True)
    (x0, x1), _ = w.plots._first.getViewBox().viewRange()
    assert x1 - x0 == pytest.approx(DEFAULT_WINDOW) and x0 > 0.0


async def test_reset_leaves_nothing_stale(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 120.0, "warmup": 0.0}), None)
    w.tabs.setCurrentIndex(TAB_WORKERS)
    await _run_to_end(w)
    await wait_until(lambda: "finished" in w.message.text().lower(), what="the finish message")
    await wait_until(lambda: w.tabs.tabText(TAB_WORKERS) != "Workers", what="a worker count")
    w.controls.reset_action.trigger()
    assert _engine(w).state == RunState.IDLE
    assert w.tabs.tabText(TAB_WORKERS) == "Workers (0)"
    assert w.message.text() == "", "no word about the previous run survives a reset"
    assert w.state_label.text() == "ready"
    assert w.workers.workers_model.rowCount() == 0


async def test_a_duration_below_now_is_refused_at_the_field(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 3600.0, "warmup": 0.0}), None)
    w.set_speed(100.0)
    w.toggle_run()
    await wait_until(lambda: _engine(w).now >= 120.0, what="two minutes of run")
    w.toggle_run()
    field = w.form.fields["run.duration"]
    field.editor.set_value(60.0)
    field.editor.committed.emit(field.editor.value())
    assert field.invalid_reason is not None and "already at" in field.invalid_reason
    assert _engine(w).scenario.run.duration == 3600.0
    later = _engine(w).now + 30.0  # later than now is a change like any other
    assert w._submit_change(ParamChange("run.duration", later)) is None
    assert _engine(w).scenario.run.duration == later


async def test_reprocessing_after_the_end_offers_to_continue_the_run(
        window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 60.0, "warmup": 0.0},
                            failures={"poison_fraction": 0.3},
                            retry={"max_attempts": 1}), None)
    await _run_to_end(w)
    pane = w.dead_letters
    w.tabs.setCurrentWidget(pane)
    dead = _engine(w).totals().dead_lettered
    assert dead > 0
    await wait_until(lambda: pane.model.rowCount() > 0, what="the dead letters listed")
    pane.table.selectAll()
    task = pane.reprocess_selected()
    assert task is not None
    await task
    n = _engine(w).totals().waiting
    assert n > 0, "the reprocessed tasks wait in the queue"
    await wait_until(lambda: getattr(w, "continue_dialog", None) is not None, what="the offer")
    box = w.continue_dialog
    assert "nothing will process" in box.text()
    go = next(b for b in box.findChildren(QPushButton) if b.text() == "Continue the run")
    go.click()
    await wait_until(lambda: _engine(w).state == RunState.FINISHED and _engine(w).now > 60.0,
                     30.0, "the continued run's end")
    totals = _engine(w).totals()
    assert totals.waiting < n, "the continued run processed them"
    assert totals.dead_lettered >= dead, "poison: every one of them failed again"
    assert totals.balanced
    assert any(c.path == "run.duration" for c in _engine(w).changes), "marked on the plots"


async def test_declining_the_offer_says_they_will_wait(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 60.0, "warmup": 0.0},
                            failures={"poison_fraction": 0.3},
                            retry={"max_attempts": 1}), None)
    await _run_to_end(w)
    pane = w.dead_letters
    w.tabs.setCurrentWidget(pane)
    await wait_until(lambda: pane.model.rowCount() > 0, what="the dead letters listed")
    pane.table.selectRow(0)
    waiting = _engine(w).totals().waiting
    task = pane.reprocess_selected()
    assert task is not None
    await task
    await wait_until(lambda: getattr(w, "continue_dialog", None) is not None, what="the offer")
    stay = next(b for b in w.continue_dialog.findChildren(QPushButton)
                if b.text() == "Leave them waiting")
    stay.click()
    assert "will not process" in w.message.text()
    assert _engine(w).state == RunState.FINISHED
    assert _engine(w).totals().waiting == waiting + 1


async def test_live_proposes_a_time_scale_and_says_why_speed_is_off(
        window: MainWindow) -> None:
    w = window
    assert proposed_time_scale(3600.0) == 0.05  # an hour in three minutes
    assert proposed_time_scale(600.0) == 0.2
    assert proposed_time_scale(120.0) is None
    w.set_mode("live")
    assert w.runner.kind == "live"
    assert w.scenario.run.time_scale == 0.05
    assert w.controls.time_scale.value() == pytest.approx(0.05)
    scale_action = w.controls._live_widgets[1]  # in the toolbar, or its overflow menu
    assert scale_action.isVisible() and w.controls.time_scale.isEnabled()
    assert "3:00" in w.controls.live_length.text()
    assert "1:00:00" in w.controls.live_length.toolTip()
    speed = w.controls.speed_actions[10.0]
    assert not speed.isEnabled() and "time scale" in speed.toolTip()
    w.controls.time_scale.setValue(0.1)  # edited before Start: the scenario follows
    assert w.scenario.run.time_scale == pytest.approx(0.1)
    assert "6:00" in w.controls.live_length.text()
    w.set_mode("simulated")
    assert speed.isEnabled() and not scale_action.isVisible()


async def test_export_errors_name_the_path_and_the_reason(window: MainWindow,
                                                          tmp_path: Path) -> None:
    w = window
    missing = tmp_path / "nowhere" / "frames.csv"
    assert w.export_csv(missing) == 0
    assert str(missing) in (w.last_error or "") and "no such folder" in (w.last_error or "")
    assert not w.export_png(tmp_path / "gone" / "plots.png")
    assert "no such folder" in (w.last_error or "")
    for box in w.findChildren(QMessageBox):
        box.close()


async def test_a_long_backend_url_is_elided_with_the_password_masked(
        window: MainWindow) -> None:
    w = window
    url = "postgresql://alice:s3cret@db.internal.example.com:5432/queues_for_production?queue=x"
    w.controls.set_backend(url)
    text = w.controls.backend.text()
    assert "…" in text and len(text) < len(url)
    assert "s3cret" not in text and "s3cret" not in w.controls.backend.toolTip()
    assert "alice" in w.controls.backend.toolTip() and "queue=x" in w.controls.backend.toolTip()


# -- plots ---------------------------------------------------------------------------------------

async def test_marker_labels_use_the_forms_words_and_never_overlap(qtbot) -> None:
    panel = PlotPanel(FrameHistory(capacity=100))
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.set_window(None)
    change = AppliedChange(100.0, "pool.scale_up_threshold", 40.0, 15.0)
    assert change.label() == "Scale-up threshold 40 → 15 tasks"
    for i in range(6):  # close together: they must stack, not overprint
        panel.add_marker(AppliedChange(100.0 + i, "pool.scale_up_threshold", 40.0, 15.0 + i))
    top = panel.plots["queue"]
    top.plot.setXRange(0, 1000, padding=0)
    top.layout_labels()
    shown = [m for m in top.markers if m.label.isVisible()]
    assert 1 <= len(shown) <= LABEL_ROWS
    rows = [m.label_row for m in shown]
    assert len(set(rows)) == len(rows), "each visible label has a row of its own"
    for m in top.markers:  # every marker keeps its full text on hover
        assert "Scale-up threshold" in m.toolTip()
    long = AppliedChange(200.0, "retry.max_delay", 30.0, 120.0)
    panel.add_marker(long)
    assert top.markers[-1].full_text == long.label()


async def test_axes_read_whole_numbers_and_percentages_before_the_first_frame(qtbot) -> None:
    panel = PlotPanel(FrameHistory(capacity=100))
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.redraw(force=True)
    _, (lo, hi) = panel.plots["utilization"].plot.getViewBox().viewRange()
    assert lo == 0 and hi >= 100, "a percentage axis reads 0-100 % with no data"
    counts = panel.plots["queue"].plot.getAxis("left")
    assert isinstance(counts, ValueAxis) and counts.counts
    for sp, _ in counts.tickSpacing(0.0, 1.0, 200):
        assert sp >= 1 and sp == int(sp)
    time_axis = panel.plots["utilization"].plot.getAxis("bottom")
    assert time_axis.tickStrings([0.0, 30.0], 1.0, 0.1) == ["0:00", "0:30"]


async def test_smoothing_averages_rates_and_weighs_shares_by_attempts() -> None:
    y = np.array([0.0, 10.0, 0.0, 10.0])
    assert trailing_mean(y, 2).tolist() == [0.0, 5.0, 5.0, 5.0]
    assert trailing_sum(np.array([1.0, 2.0, np.nan, 4.0]), 2).tolist() == [1.0, 3.0, 2.0, 4.0]
    from queuelab.gui.plots import _Plot

    x = np.arange(1.0, 5.0)
    columns = {"error_rate": np.array([1.0, 0.0, 0.0, 0.5]),
               "throughput": np.array([0.0, 9.0, 9.0, 5.0]),
               "retry_rate": np.array([1.0, 0.0, 0.0, 5.0]),
               "dead_letters": np.zeros(4)}
    share, sparse = _Plot._share(x, columns, 1)
    assert share.tolist() == [1.0, 0.0, 0.0, 0.5]
    assert sparse.tolist() == [True, False, False, False], "1 of 1 failing is faded"
    share2, _ = _Plot._share(x, columns, 2)
    assert share2[1] == pytest.approx(1 / 10), "failed / attempts over the window"


async def test_retries_and_the_open_breaker_are_drawn(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 0.0},
                            failures={"probability": 0.6},
                            breaker={"enabled": True, "failure_threshold": 3,
                                     "open_for": 20.0}), None)
    await _run_to_end(w)
    w.plots.redraw(force=True)
    assert "retries" in w.plots.plots["throughput"].legend.names
    errors = w.plots.plots["errors"]
    assert "breaker open" in errors.legend.names
    assert errors.band is not None and errors.band.item.xData is not None
    assert len(errors.band.item.xData) > 0


async def test_an_unstable_queue_shows_its_growth_not_erlang_c(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 0.0},
                            arrivals={"process": "poisson", "rate": 4.4},
                            service={"distribution": "exponential", "mean": 1.0},
                            pool={"strategy": "fixed", "workers": 4}), None)
    await _run_to_end(w)
    w.theory.refresh(w.runner.engine, w.history)
    text = w.theory.headline.text()
    assert "unstable" in text and "grows by" in text and "0.4 tasks per second" in text
    ref = w.history.last("ref_lq")
    t = w.history.last("t")
    assert np.all(np.isfinite(ref)), "a line to draw, not a gap"
    assert ref[-1] == pytest.approx(0.4 * t[-1], rel=1e-6)
    assert np.nanmax(w.history.last("ref_rho")) == 1.0, "the pool is saturated, not at 110 %"
    g = Growth(10.0, 5.0, 0.5, 4.0)
    assert g.lq(np.array([0.0, 10.0, 20.0])).tolist() == [5.0, 5.0, 10.0]


async def test_the_theory_tab_names_both_queue_lengths(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 60.0},
                            arrivals={"process": "poisson", "rate": 3.0},
                            service={"distribution": "exponential", "mean": 1.0},
                            pool={"strategy": "fixed", "workers": 4}), None)
    await _run_to_end(w)
    w.theory.refresh(w.runner.engine, w.history)
    table = w.theory.table
    labels = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert any("time average" in x for x in labels) and any("Little" in x for x in labels)
    s = _engine(w).summary()
    little = next(r for r, x in enumerate(labels) if "Little" in x)
    assert float(table.item(little, 1).text()) == pytest.approx(
        s.arrived / s.duration * s.mean_wait, rel=1e-3)


# -- sizes ---------------------------------------------------------------------------------------

async def test_the_window_fits_1024_by_700(window: MainWindow) -> None:
    w = window
    assert w.minimumSizeHint().width() <= 1024 and w.minimumSizeHint().height() <= 700
    w.resize(1024, 700)
    await wait_until(lambda: w.width() == 1024, what="the resize")
    assert w.form.width() >= 280, "the form's editors stay readable"
    assert w.plots.height() >= w.tabs.height(), "the plots keep most of the height"
    w.resize(1600, 1000)
    await wait_until(lambda: w.width() == 1600, what="the resize")
    top, bottom = w.right.sizes()
    assert top > 2 * bottom, "extra height goes to the plots"


async def test_the_dead_letter_tab_gets_room_and_each_tab_keeps_its_split(
        window: MainWindow) -> None:
    from queuelab.gui.main_window import TAB_DEAD

    w = window
    w.resize(1400, 900)
    await wait_until(lambda: w.height() == 900, what="the resize")
    top, workers_bottom = w.right.sizes()
    w.tabs.setCurrentIndex(TAB_DEAD)
    top, dead_bottom = w.right.sizes()
    assert dead_bottom > workers_bottom * 1.5, "the dead-letter table gets more rows"
    w.right.setSizes([top + dead_bottom - 300, 300])  # the user drags the split …
    w.right.splitterMoved.emit(0, 1)
    w.tabs.setCurrentIndex(TAB_WORKERS)
    assert abs(w.right.sizes()[1] - workers_bottom) <= 2
    w.tabs.setCurrentIndex(TAB_DEAD)  # … and finds it where they left it
    assert abs(w.right.sizes()[1] - 300) <= 2


async def test_the_run_toolbar_fits_1024_pixels_in_every_mode(window: MainWindow) -> None:
    w = window
    w.resize(1024, 700)
    await wait_until(lambda: w.width() == 1024, what="the resize")
    for kind in ("simulated", "live", "simulated"):
        w.set_mode(kind)
        await wait_until(lambda k=kind: w.runner.kind == k, what=kind)
        for _ in range(5):
            await asyncio.sleep(0.02)
        hidden = [a.text() or type(w.controls.widgetForAction(a)).__name__
                  for a in w.controls.actions()
                  if a.isVisible() and w.controls.widgetForAction(a) is not None
                  and not w.controls.widgetForAction(a).isVisible()]
        assert not hidden, f"in {kind} mode these went to the overflow menu: {hidden}"


async def test_short_plots_keep_their_axis_titles_apart(window: MainWindow) -> None:
    """With the Theory tab at 1024×700 the four plots are short: each y axis' title is cut
    to what fits its plot's height (the unit alone, or nothing), so no title runs into the
    next plot's; tall plots keep the whole title."""
    from PySide6.QtGui import QFontMetricsF

    from queuelab.gui.main_window import TAB_THEORY
    from queuelab.gui.plots import axis_unit

    w = window
    w.resize(1024, 700)
    w.tabs.setCurrentIndex(TAB_THEORY)
    await wait_until(lambda: w.width() == 1024, what="the resize")
    QApplication.processEvents()
    cut = 0
    for p in w.plots.plots.values():
        height = p.plot.getViewBox().height()
        for side in ("left", "right"):
            axis = p.plot.getAxis(side)
            shown = axis.labelText if axis.isVisible() and axis.label.isVisible() else ""
            width = QFontMetricsF(axis.label.font()).horizontalAdvance(shown)
            assert width <= height, (p.spec.key, side, shown, width, height)
            wanted = p.spec.label if side == "left" else p.spec.right_label
            assert shown in (wanted, axis_unit(wanted), "")
            cut += shown != wanted
    assert cut > 0  # this height does cut some
    w.tabs.setCurrentIndex(0)
    w.resize(1600, 1200)
    await wait_until(lambda: w.width() == 1600, what="the resize")
    QApplication.processEvents()
    for p in w.plots.plots.values():
        assert p.plot.getAxis("left").labelText == p.spec.label
