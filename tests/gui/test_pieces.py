"""The window's smaller parts on their own: editors, form, workers model, plots helpers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.core.scenario import KNOBS, Scenario
from queuelab.core.validation import ParamChange, ScenarioError
from queuelab.gui.edits import rebuild
from queuelab.gui.knob_editors import parse_numbers
from queuelab.gui.plot_items import decimate, format_clock, nice_ceiling, steps_only
from queuelab.gui.scenario_form import ScenarioForm, knob_tooltip
from queuelab.gui.workers_table import WorkersModel


def test_parse_numbers() -> None:
    assert parse_numbers("1, 2 4;0.5") == (1.0, 2.0, 4.0, 0.5)
    assert parse_numbers("") == ()
    with pytest.raises(ValueError, match="not a number: 'x'"):
        parse_numbers("1, x")
    with pytest.raises(ValueError, match="finite"):
        parse_numbers("inf")


def test_format_clock_and_nice_ceiling() -> None:
    assert format_clock(0) == "0:00"
    assert format_clock(61.4) == "1:01"
    assert format_clock(3600 * 25 + 7) == "25:00:07"
    assert format_clock(math.nan) == "–"
    assert [nice_ceiling(v) for v in (0, 0.7, 1, 1.2, 7, 13, 594, 1e6 + 1)] == [
        1.0, 0.8, 1.0, 1.5, 8.0, 15.0, 600.0, 1.5e6]


def test_decimate_keeps_peaks_and_newest_points() -> None:
    x = np.arange(10_000, dtype=float)
    y = np.zeros(10_000)
    y[1234] = 99.0
    xs, ys = decimate(x, y, 1000)
    assert ys.size <= 1000 and ys.max() == 99.0 and xs[-1] <= x[-1]
    small = np.arange(5.0)
    assert decimate(small, small, 1000)[1] is small


def test_steps_only_keeps_changes() -> None:
    x = np.arange(8.0)
    y = np.array([1, 1, 1, 2, 2, np.nan, np.nan, np.nan])
    xs, ys = steps_only(x, y)
    assert list(xs) == [0.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    assert np.array_equal(ys, np.array([1, 1, 2, 2, np.nan, np.nan]), equal_nan=True)


def test_tooltip_names_label_unit_range_and_help() -> None:
    tip = knob_tooltip(KNOBS["pool.scale_up_threshold"])
    assert "Scale-up threshold" in tip and "tasks" in tip and "Range: [0, 1e+09]" in tip
    assert KNOBS["pool.scale_up_threshold"].knob.help.split(" ")[0] in tip
    assert "Cannot change while a run goes on" in knob_tooltip(KNOBS["run.seed"])
    assert "(0, 1]" not in knob_tooltip(KNOBS["failures.probability"])
    assert "[0, 1]" in knob_tooltip(KNOBS["failures.probability"])


def test_form_is_generated_from_every_file_knob(qtbot) -> None:
    submitted: list[ParamChange] = []
    form = ScenarioForm(lambda change: submitted.append(change) or None)
    qtbot.addWidget(form)
    assert set(form.fields) == {p for p, i in KNOBS.items() if i.knob.in_file}
    assert set(form.sections) == {i.section for i in KNOBS.values()}
    assert form.fields["pool.strategy"].editor.value() == Scenario().pool.strategy
    form.fields["retry.jitter"].editor.box.setCurrentText("equal")  # type: ignore[attr-defined]
    assert submitted == [ParamChange("retry.jitter", "equal")]
    # a backend password is shown masked and never sent back as the mask
    form.set_scenario(Scenario(queue=Scenario().queue.__class__(
        backend="redis://user:secret@localhost:6379/0")))
    backend = form.fields["queue.backend"].editor
    assert "secret" not in backend.line.text()  # type: ignore[attr-defined]
    assert backend.value() == "redis://user:secret@localhost:6379/0"


def test_workers_model_updates_rows_in_place(qtbot) -> None:
    model = WorkersModel()
    resets: list[int] = []
    changed: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), b.row())))
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    model.rowsRemoved.connect(lambda _p, a, b: removed.append((a, b)))

    def w(i: int, state: WorkerState = WorkerState.IDLE, n: int = 0) -> WorkerInfo:
        return WorkerInfo(f"w{i}", state, None, n, 0, 0.0)

    model.update([w(1), w(2), w(3)])
    assert inserted == [(0, 2)] and model.rowCount() == 3
    model.update([w(1), w(2, WorkerState.BUSY, 5), w(3)])
    assert changed == [(1, 1)]
    assert model.data(model.index(1, 1)) == "busy" and model.data(model.index(1, 3)) == "5"
    model.update([w(1)])
    assert removed == [(1, 2)] and model.rowCount() == 1
    assert resets == []


def test_rebuild_reads_a_trace_file_when_it_is_named(tmp_path: Path) -> None:
    trace = tmp_path / "arrivals.csv"
    trace.write_text("t\n0.5\n1.0\n2.5\n", encoding="utf-8")
    s = rebuild(Scenario(), ParamChange("arrivals.trace", "arrivals.csv"), tmp_path)
    assert s.arrivals.trace == "arrivals.csv" and s.arrivals.trace_times == ()
    s = rebuild(s, ParamChange("arrivals.process", "trace"), tmp_path)
    assert s.arrivals.trace_times == (0.5, 1.0, 2.5)
    with pytest.raises(ScenarioError, match=r"arrivals\.trace"):
        rebuild(s, ParamChange("arrivals.trace", "missing.csv"), tmp_path)
    with pytest.raises(ScenarioError, match=r"pool\.max_workers"):
        rebuild(Scenario(), ParamChange("pool.max_workers", 0), tmp_path)


def test_plot_panel_windows_follow_and_markers(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    from queuelab.core.engine import AppliedChange
    from queuelab.gui import plots
    from queuelab.gui.history import FrameHistory
    from queuelab.gui.plots import PlotPanel

    monkeypatch.setattr(plots, "MAX_MARKERS", 6)  # the cap, small enough to test quickly
    cap = plots.MAX_MARKERS

    from .test_history import frame

    h = FrameHistory(capacity=5000, coarse_capacity=256)
    panel = PlotPanel(h)
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    base = frame(0.0)
    h.append([base._replace(t=float(i), depth=i % 7, workers=3) for i in range(1, 2001)],
             reference=(2.0, 0.5, 0.1))
    panel.set_reference_shown(True)
    panel.set_window(300.0)
    assert panel.redraw(force=True)
    assert not panel.redraw(), "nothing new, nothing drawn"
    (x0, x1), _ = panel.plots["queue"].plot.getViewBox().viewRange()
    assert x1 >= 2000 and x1 - x0 == pytest.approx(300.0)
    depth = panel.plots["queue"].curves[0].item
    assert depth.getData()[0].size <= 302
    assert panel.plots["queue"].plot.getViewBox().viewRange()[1][1] == 8.0  # round top

    panel.set_window(None)  # the whole run, from the folded copy
    panel.redraw(force=True)
    assert depth.getData()[0].size <= 256 + 1
    assert panel.follow
    panel.plots["queue"].plot.getViewBox().sigRangeChangedManually.emit([True, False])
    assert not panel.follow, "a pan or zoom stops following the run"
    panel.set_follow(True)
    assert panel.follow

    for k in range(cap + 5):
        panel.add_marker(AppliedChange(float(k), "pool.workers", k, k + 1))
    assert len(panel.plots["queue"].markers) == cap
    panel.update_last_marker(AppliedChange(7.0, "pool.workers", 1, 9))
    assert "Workers 1 → 9" in panel.plots["queue"].markers[-1].label.toPlainText()
    panel.clear()
    assert not panel.plots["queue"].markers


def test_panning_back_shows_older_frames(qtbot) -> None:
    from queuelab.gui.history import FrameHistory
    from queuelab.gui.plots import PlotPanel

    from .test_history import frame

    h = FrameHistory(capacity=10_000, coarse_capacity=256)
    panel = PlotPanel(h)
    qtbot.addWidget(panel)
    panel.show()
    h.append([frame(float(i), depth=i) for i in range(1, 5001)])
    panel.set_window(60.0)
    panel.redraw(force=True)
    xs = panel.plots["queue"].curves[0].item.getData()[0]
    assert xs[0] >= 4900, "following: only the last minute"
    vb = panel.plots["queue"].plot.getViewBox()
    vb.setXRange(1000.0, 1060.0, padding=0)
    vb.sigRangeChangedManually.emit([True, False])
    assert not panel.follow
    assert panel.redraw(force=True)
    xs, ys = panel.plots["queue"].curves[0].item.getData()
    assert xs[0] <= 1000.0 and ys[int(np.searchsorted(xs, 1030.0))] == 1030.0, "exact rows"


def test_slow_drawing_spaces_redraws_out(qtbot) -> None:
    from queuelab.gui.history import FrameHistory
    from queuelab.gui.plots import DRAW_SHARE, PlotPanel

    from .test_history import frame

    now = [100.0]  # the panel's clock: it moves only when told, so drawing costs nothing
    panel = PlotPanel(FrameHistory(capacity=100), clock=lambda: now[0])
    qtbot.addWidget(panel)
    panel.history.append([frame(1.0)])
    panel.add_paint_cost(0.05)  # as if the last paint took 50 ms
    assert panel.redraw(force=True)
    spacing = 0.05 * (1 / DRAW_SHARE - 1)
    assert panel.next_redraw_at == pytest.approx(100.0 + spacing)
    panel.mark_dirty()
    assert not panel.redraw(), "too soon after an expensive redraw"
    now[0] += spacing * 0.99
    assert not panel.redraw(), "still too soon"
    now[0] += spacing * 0.02
    assert panel.redraw()
