"""The Tune tab: sweep from the form, the cost/wait chart filling as points finish, a failed
point crossed with its reason, click-to-load running the point pinned, the heat map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from queuelab.gui.main_window import MainWindow
from queuelab.gui.scenario_form import sweepable
from queuelab.gui.sweep_dialog import SweepAxisDialog
from queuelab.tuning.axes import Axis
from queuelab.tuning.estimate import fewer_points, fewer_seeds

from .helpers import run_to_end, scenario, wait_until

pytestmark = pytest.mark.asyncio

SHORT = {"duration": 400.0, "warmup": 40.0}
DYNAMIC = {"strategy": "dynamic", "workers": 2, "min_workers": 1, "max_workers": 8,
           "scale_up_threshold": 10.0}


async def test_sweep_this_is_offered_on_numeric_and_choice_knobs_only(
        window: MainWindow) -> None:
    from queuelab.core.scenario import KNOBS

    assert sweepable(KNOBS["pool.max_workers"]) and sweepable(KNOBS["retry.jitter"])
    assert not sweepable(KNOBS["run.seed"]) and not sweepable(KNOBS["queue.backend"])
    field = window.form.fields["pool.max_workers"]
    field.label.customContextMenuRequested.emit(field.label.rect().center())
    menu = window.form.last_menu
    assert menu is not None and [a.text() for a in menu.actions()] == ["Sweep this…"]
    menu.actions()[0].trigger()
    dialogs = window.tune.findChildren(SweepAxisDialog)
    assert dialogs and dialogs[-1].path == "pool.max_workers"
    dialogs[-1].reject()


async def test_an_invalid_range_is_refused_at_the_field_with_the_reason(
        window: MainWindow) -> None:
    d = SweepAxisDialog("pool.max_workers", 8, window)
    ok = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled() and d.axis is not None and d.axis.values[0] == 4
    assert d.start is not None and d.stop is not None
    d.start.setValue(0)
    assert not ok.isEnabled() and d.axis is None
    assert "must be >= 1" in d.error.text() and not d.error.isHidden()
    d.start.setValue(12)
    d.stop.setValue(6)
    assert not ok.isEnabled() and "at least" in d.error.text()
    d.stop.setValue(20)
    d.log.setChecked(True)
    assert ok.isEnabled() and d.axis is not None
    assert d.axis.values[0] == 12 and d.axis.values[-1] == 20
    d.close()


async def test_a_third_axis_from_the_form_is_refused(window: MainWindow) -> None:
    t = window.tune
    t.add_axis(Axis("pool.max_workers", (4, 8)))
    t.add_axis(Axis("pool.min_workers", (1, 2)))
    assert t.sweep_knob("pool.workers") is None and len(t.axes) == 2
    assert "Two axes at most" in window.message.text()


async def test_a_long_sweep_says_how_long_and_can_be_made_smaller(
        window: MainWindow) -> None:
    window.set_scenario(scenario(run={"duration": 86400.0}), None)  # a day a run
    t = window.tune
    t.add_axis(Axis("pool.max_workers", tuple(range(1, 101))))
    t.seeds.setValue(50)
    asked: list[float] = []

    def refuse(sweep: object, seconds: float) -> None:
        asked.append(seconds)
        return None

    t.confirm_long = refuse  # type: ignore[assignment]
    assert not t.start() and t.sweep_thread is None
    assert asked and asked[0] > 180
    t.confirm_long = lambda sweep, seconds: fewer_seeds(fewer_points(sweep))  # type: ignore
    assert t.start() and t.sweep is not None
    assert len(t.sweep.axes[0].values) == 51 and t.sweep.replications == 25
    t.stop()


async def test_the_chart_fills_then_a_click_runs_the_point_pinned(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    w.set_scenario(scenario(run=SHORT, pool=DYNAMIC), None)
    await run_to_end(w)  # the run that becomes the baseline
    t = w.tune
    t.add_axis(Axis("pool.max_workers", (2, 6)))
    t.add_axis(Axis("pool.min_workers", (1, 4)))  # min 4 > max 2: an invalid point
    t.seeds.setValue(2)
    assert t.start()
    await wait_until(lambda: t.sweep_thread is None, 120.0, "the sweep's end")
    assert t.progress.value() == t.progress.maximum() == 8
    assert len(t.points) == 4
    invalid = [p for p in t.points.values() if p.status == "invalid"]
    assert len(invalid) == 1 and invalid[0].values == (2, 4)
    # the invalid point is crossed, its reason on hover
    crossed = t.failed.points()
    assert len(crossed) == 1
    assert "max_workers" in t._tip(0, 0, crossed[0].data()) or \
        "Max workers" in t._tip(0, 0, crossed[0].data())
    spots = t.scatter.points()
    assert len(spots) == 3 and t.front
    number = int(spots[0].data())
    point = t.points[number]
    assert "Max workers" in t._tip(0, 0, number)
    x0, _ = t.band.getRegion()
    assert x0 == 0.0
    # heat map: the two axes' grid, NaN where the invalid point is
    grid = t.heat_grid("wait_p95")
    assert grid is not None and grid.shape == (2, 2) and np.isnan(grid[0, 1])
    t.view_box.setCurrentIndex(1)
    assert t.export_png(tmp_path / "heat.png") and (tmp_path / "heat.png").stat().st_size
    assert t.export_csv(tmp_path / "points.csv")
    assert len((tmp_path / "points.csv").read_text().splitlines()) == 5
    # click: the point's knobs go into the form, it runs, and is pinned beside the baseline
    t._clicked(t.scatter, [spots[0]])
    assert w.form.fields["pool.max_workers"].editor.value() == point.values[0]
    assert w.form.fields["pool.min_workers"].editor.value() == point.values[1]
    engine = w.runner.engine
    assert engine is not None and engine.scenario.pool.max_workers == point.values[0]
    await wait_until(lambda: len(w.comparison.pins) == 2, 60.0, "the point pinned")
    assert [p.name for p in w.comparison.pins.runs] == ["baseline", f"point {number}"]
    pinned = w.comparison.pins.runs[1]
    assert pinned.runs[0]["wait_p95"] == engine.summary().wait_p95




async def test_a_sweep_file_runs_with_its_own_axes_and_slo(
        window: MainWindow, tmp_path: Path) -> None:
    t = window.tune
    path = tmp_path / "s.toml"
    path.write_text("""format = 1
replications = 1
[slo]
wait_p99 = 3.0
[scenario.run]
duration = 300.0
warmup = 30.0
[axes]
"pool.workers" = [2, 3, 4]
"retry.max_attempts" = [1, 2]
"failures.probability" = [0.0, 0.1]
""")
    assert t.open_sweep(path) and len(t.axes) == 3, "a file may have more than two axes"
    assert window.comparison.objective.metric == "wait_p99", "the file's SLO is the window's"
    assert window.comparison.objective.limit == 3.0
    await wait_until(lambda: t.sweep_thread is None, 120.0, "the file's sweep")
    assert len(t.points) == 12 and t.progress.value() == 12


async def test_a_sweep_can_be_cancelled(window: MainWindow) -> None:
    t = window.tune
    window.set_scenario(scenario(run={"duration": 3600.0, "warmup": 60.0}), None)
    t.add_axis(Axis("pool.workers", tuple(range(1, 41))))
    t.seeds.setValue(1)
    assert t.start()
    await wait_until(lambda: len(t.points) >= 1, 60.0, "a first point")
    t.cancel()
    assert t.run_button.text() == "Cancelling…"
    await wait_until(lambda: t.sweep_thread is None, 60.0, "the cancel")
    assert len(t.points) < 40 and "cancelled" in t.progress.format()
    assert t.run_button.text() == "Run sweep" and t.run_button.isEnabled()


async def test_the_slo_is_drawn_on_the_wait_plot_with_the_run_s_percentiles(
        window: MainWindow) -> None:
    w = window
    w.comparison.pane.objective_editor.limit.setValue(1.0)
    w.set_scenario(scenario(run=SHORT, pool={"workers": 3}), None)
    await run_to_end(w)
    from queuelab.gui.main_window import TAB_WAITS

    w.tabs.setCurrentIndex(TAB_WAITS)
    w.comparison.refresh(force=True)
    w.plots.redraw(force=True)
    waits = w.plots.wait_plot
    s = w.runner.engine.summary()  # type: ignore[union-attr]
    assert waits.slo_line is not None and waits.slo_line.value() == 1.0
    assert waits.overall_lines["wait_p95"].value() == s.wait_p95
    assert waits.overall_lines["wait_p99"].value() == s.wait_p99
    names = waits.legend.names
    assert "SLO 1 s" in names and any(n.startswith("run p95") for n in names)
    assert waits.slo_band is not None
    _, y = waits.slo_band.getData()
    p95 = w.history.last("wait_p95", len(w.history))
    assert (y > 0).any() == bool((np.nan_to_num(p95) > 1.0).any())


async def test_sweeps_run_again_in_the_same_window(window: MainWindow) -> None:
    """The chart's error bars once kept the previous sweep's widths when emptied for the
    next sweep, and Qt crashed drawing them."""
    t = window.tune
    window.set_scenario(scenario(run={"duration": 300.0, "warmup": 30.0}), None)
    t.add_axis(Axis("pool.workers", (2, 3, 4)))
    t.seeds.setValue(1)
    for _ in range(3):
        assert t.start()
        await wait_until(lambda: t.sweep_thread is None, 60.0, "the sweep's end")
        assert len(t.points) == 3
