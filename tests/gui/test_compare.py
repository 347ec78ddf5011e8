"""Compare runs in the window: pin a run, see it as ghost curves and in the Compare tab
beside the current run, with figures that are the engine's own summaries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from queuelab.gui.main_window import TAB_COMPARE, MainWindow
from queuelab.gui.pins import MAX_PINS
from queuelab.io.scenario_files import load_scenario
from queuelab.tuning.compare import COMPARED, format_estimate
from queuelab.tuning.stats import estimate

from .helpers import run_to_end, scenario, wait_until

pytestmark = pytest.mark.asyncio

SHORT = {"duration": 600.0, "warmup": 60.0}




def _ghost_names(w: MainWindow) -> list[str]:
    return [g.series.name for g in w.plots.plots["queue"].ghosts]


async def test_pin_draws_a_ghost_with_a_legend_entry_and_unpin_removes_it(
        window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run=SHORT), None)
    assert w.comparison.pin() is None, "nothing to pin before a run"
    await run_to_end(w)
    w.comparison.pin_action.trigger()
    assert len(w.comparison.pins) == 1
    for key, plot in w.plots.plots.items():
        assert [g.series.name for g in plot.ghosts] == ["baseline"], key
        assert "baseline" in plot.legend.names, key
    # hide, rename, remove from the Compare tab's list
    item = w.comparison.pane.pin_list.item(0)
    item.setCheckState(item.checkState().__class__.Unchecked)
    assert _ghost_names(w) == [] and "baseline" not in w.plots.plots["queue"].legend.names
    item = w.comparison.pane.pin_list.item(0)
    item.setCheckState(item.checkState().__class__.Checked)
    w.comparison.pane.pin_list.item(0).setText("two workers")
    assert _ghost_names(w) == ["two workers"]
    w.comparison.pane.pin_list.setCurrentRow(0)
    w.comparison.pane.remove_requested.emit(0)
    assert len(w.comparison.pins) == 0 and _ghost_names(w) == []
    assert "two workers" not in w.plots.plots["waits"].legend.names


async def test_at_most_four_pins_and_the_ghost_stays_across_a_new_run(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    w.set_scenario(scenario(run=SHORT), None)
    await run_to_end(w)
    for _ in range(MAX_PINS):
        assert w.comparison.pin() is not None
    assert w.comparison.pin() is None and not w.comparison.pin_action.isEnabled()
    w.reset()  # a new run: the pinned curves stay, on the same time axis
    assert len(_ghost_names(w)) == MAX_PINS
    assert w.comparison.save_pin(w.comparison.pins.runs[0], tmp_path / "pin.toml")
    assert load_scenario(tmp_path / "pin.toml").run.duration == SHORT["duration"]


async def test_the_compare_table_shows_the_engine_summaries(window: MainWindow,
                                                          tmp_path: Path) -> None:
    w = window
    w.tabs.setCurrentIndex(TAB_COMPARE)
    w.comparison.pane.objective_editor.price.setValue(2.5)
    w.set_scenario(scenario(run=SHORT, pool={"workers": 2}), None)
    await run_to_end(w)
    first = w.runner.engine.summary()  # type: ignore[union-attr]
    w.comparison.pin()
    w.set_scenario(scenario(run=SHORT, pool={"workers": 6}), None)
    await run_to_end(w)
    second = w.runner.engine.summary()  # type: ignore[union-attr]
    t = w.comparison.pane.table
    assert [t.horizontalHeaderItem(c).text() for c in range(2)] == ["baseline", "current"]
    rows = {c.key: r for r, c in enumerate(COMPARED)}
    for col, s in ((0, first), (1, second)):
        values = {"worker_hours": s.worker_seconds / 3600, "cost": 2.5 * s.worker_seconds / 3600,
                  "mean_wait": s.mean_wait, "wait_p95": s.wait_p95, "wait_p99": s.wait_p99,
                  "dead_lettered": s.dead_lettered, "peak_workers": s.peak_workers,
                  "scale_events": s.scale_events, "utilization": s.utilization}
        for key, value in values.items():
            c = COMPARED[rows[key]]
            shown = t.item(rows[key], col).text()
            assert shown.startswith(format_estimate(estimate([value]), c)), (key, shown)
    w.comparison.pane.export_csv(tmp_path / "compare.csv")
    lines = (tmp_path / "compare.csv").read_text().splitlines()
    assert lines[0] == "figure,baseline,current" and len(lines) == 1 + len(COMPARED)
    assert lines[5].startswith("wait p95 (whole run),")
    # one seed against one seed: shown with its difference, never coloured as real
    cell = t.item(rows["worker_hours"], 1)
    assert "%" in cell.text() and not cell.font().bold()
    assert math.isclose(second.worker_seconds / first.worker_seconds, 3.0, rel_tol=0.01)


async def test_seeds_give_intervals_and_a_real_difference_is_coloured(
        window: MainWindow) -> None:
    w = window
    pane = w.comparison.pane
    w.tabs.setCurrentIndex(TAB_COMPARE)
    pane.seeds.setValue(3)
    for workers in (2, 6):
        w.set_scenario(scenario(run=SHORT, pool={"workers": workers}), None)
        await run_to_end(w)
        pin = w.comparison.pin()
        assert pin is not None
        await wait_until(lambda p=pin: len(p.runs) == 3 and not p.pending, 90.0,
                         "the replications")
    assert sorted(w.comparison.pins.runs[0].seeds) == [1, 2, 3]
    t = pane.table
    cost = next(r for r, c in enumerate(COMPARED) if c.key == "worker_hours")
    assert "±" in t.item(cost, 0).text()
    assert t.item(cost, 1).font().bold(), "three times the workers: surely dearer"


async def test_the_thresholds_in_force_step_on_the_queue_plot(window: MainWindow) -> None:
    from queuelab.core.validation import ParamChange

    w = window
    w.set_scenario(scenario(run={"duration": 1200.0, "warmup": 0.0},
                            pool={"strategy": "dynamic", "min_workers": 1, "max_workers": 8,
                                  "scale_up_threshold": 30.0, "scale_down_threshold": 5.0}),
                   None)
    w.set_speed(100.0)
    w.toggle_run()
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.now > 300, 30.0, "five minutes of run")
    assert w._submit_change(ParamChange("pool.scale_up_threshold", 50.0)) is None
    changed = engine.changes[-1].t
    await wait_until(lambda: engine.now > changed + 200, 30.0, "more run")
    w.toggle_run()
    w.plots.redraw(force=True)
    queue = w.plots.plots["queue"]
    x, y = queue.lines["scale_up"].getData()
    assert set(np.unique(y[np.isfinite(y)])) == {30.0, 50.0}
    assert y[x < changed].max() == 30.0 and y[x > changed].min() == 50.0
    _, down = queue.lines["scale_down"].getData()
    assert set(np.unique(down)) == {5.0}
    assert {"scale-up above", "scale-down below"} <= set(queue.legend.names)
    assert "target × workers" not in queue.legend.names


async def test_a_new_slo_counts_the_pinned_run_s_frames_again(window: MainWindow) -> None:
    from queuelab.tuning.runner import ViolationCounter
    from queuelab.tuning.spec import Objective

    w = window
    editor = w.comparison.pane.objective_editor
    editor.limit.setValue(100.0)
    w.set_scenario(scenario(run=SHORT, pool={"workers": 3}), None)
    await run_to_end(w)
    pin = w.comparison.pin()
    assert pin is not None and pin.runs[0]["slo_violation_share"] == 0.0
    h = w.history
    expected = ViolationCounter(Objective("wait_p95", 0.5), SHORT["warmup"])
    expected.add_columns(h.last("t", len(h)), h.last("wait_p95", len(h)))
    assert expected.share > 0
    pin.runs.append(dict(pin.runs[0]))  # as a replication run under the old SLO would be
    editor.limit.setValue(0.5)
    assert pin.runs[0]["slo_violation_share"] == expected.share
    assert math.isnan(pin.runs[1]["slo_violation_share"]), "ran under the old SLO: unknown"
    current = w.comparison.current
    assert current is not None and current["slo_violation_share"] == expected.share
