"""The real main window, driven as a person would: run controls, live tuning, files, export.

Every async test runs on a qasync loop (see conftest), so the window's timers pump the engine
and redraw while the test awaits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from queuelab.core.engine import RunState
from queuelab.core.scenario import Scenario
from queuelab.gui.main_window import TAB_THEORY, MainWindow
from queuelab.io.frames_csv import write_frames_csv
from queuelab.sim.engine import SimEngine

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio


def _engine(w: MainWindow) -> SimEngine:
    assert w.runner.engine is not None
    return w.runner.engine  # type: ignore[return-value]


def _error_boxes(w: MainWindow) -> list[QMessageBox]:
    return [b for b in w.findChildren(QMessageBox) if b.isVisible()]


async def test_start_pause_step_and_space(window: MainWindow) -> None:
    w = window
    assert _engine(w).state == RunState.IDLE
    assert w.controls.run_action.text() == "Start"
    w.set_speed(100.0)
    w.controls.run_action.trigger()
    assert _engine(w).state == RunState.RUNNING
    assert w.controls.run_action.text() == "Pause"
    assert not w.controls.step_action.isEnabled()
    await wait_until(lambda: len(w.history) >= 3, what="three frames")
    assert w.plots.redraws > 0
    w.refresh()
    assert "t = " in w.controls.clock.text() and w.controls.clock.text() != "t = 0:00 / 1:00:00"

    w.controls.run_action.trigger()  # pause
    engine = _engine(w)
    assert engine.state == RunState.PAUSED
    assert w.controls.run_action.text() == "Resume"
    frozen = engine.now
    await asyncio.sleep(0.15)
    assert engine.now == frozen, "a paused engine must not advance"

    events = engine.events
    w.controls.step_action.trigger()
    assert engine.events == events + 1
    assert engine.now >= frozen

    w.activateWindow()
    w.setFocus()
    from PySide6.QtTest import QTest

    QTest.keyClick(w, Qt.Key.Key_Space)
    assert engine.state == RunState.RUNNING, "Space resumes"
    QTest.keyClick(w, Qt.Key.Key_Space)
    assert engine.state == RunState.PAUSED, "Space pauses"
    assert "paused" in w.state_label.text()


async def test_status_bar_shows_balanced_totals_at_every_refresh(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 100_000.0}), None)
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: len(w.history) > 50)
    w.toggle_run()
    assert _engine(w).state == RunState.PAUSED
    w.refresh()
    totals = _engine(w).totals()
    assert totals.balanced
    assert w.totals.text() == totals.describe()
    assert w.totals.text().startswith(f"created {totals.created:,} = waiting")
    assert w.totals.balanced


async def test_lowering_the_threshold_mid_run_grows_the_pool(window: MainWindow) -> None:
    """A dynamic pool that would never scale (threshold 1000) scales once it is lowered live."""
    s = scenario(
        run={"duration": 200.0, "warmup": 0.0, "seed": 7},
        arrivals={"rate": 6.0},
        pool={"strategy": "dynamic", "workers": 2, "min_workers": 2, "max_workers": 20,
              "scale_up_threshold": 1000.0, "scale_down_threshold": 5.0, "check_interval": 5.0},
    )
    headless = SimEngine(s)
    headless.run()
    unchanged_max = max(f.workers for f in headless.take_frames())
    assert unchanged_max == 2, "without the change the pool stays at its minimum"

    w = window
    assert w.set_scenario(s, None)
    w.set_speed(100.0)
    w.toggle_run()
    await wait_until(lambda: _engine(w).now >= 30.0, what="t >= 30")
    field = w.form.fields["pool.scale_up_threshold"]
    assert field.editor.widget.isEnabled(), "a live knob stays editable while running"
    field.editor.box.setValue(10.0)  # type: ignore[attr-defined]
    assert field.invalid_reason is None
    engine = _engine(w)
    assert engine.scenario.pool.scale_up_threshold == 10.0
    [change] = engine.changes
    assert change.path == "pool.scale_up_threshold" and change.new == 10.0 and change.t >= 30.0
    assert len(w.plots.plots["queue"].markers) == 1
    label = w.plots.plots["queue"].markers[0].label.toPlainText()
    assert label == "Scale-up threshold 1000 → 10 tasks", "the form's words and unit"

    w.set_speed(None)
    await wait_until(lambda: engine.state == RunState.FINISHED, what="the end of the run")
    changed_max = int(w.history.last("workers").max())
    assert changed_max > unchanged_max + 3, (changed_max, unchanged_max)
    assert w.controls.run_action.text() == "Run again"


async def test_non_live_knob_is_locked_while_running(window: MainWindow) -> None:
    w = window
    seed = w.form.fields["run.seed"]
    assert seed.editor.widget.isEnabled()
    w.toggle_run()
    assert not seed.editor.widget.isEnabled()
    assert "reset the run" in seed.editor.widget.toolTip()
    w.toggle_run()  # paused: still a run in progress
    assert not seed.editor.widget.isEnabled()
    w.reset()
    assert _engine(w).state == RunState.IDLE
    assert seed.editor.widget.isEnabled()
    assert len(w.history) == 0 and w.controls.clock.text().startswith("t = 0:00")


async def test_invalid_value_is_marked_at_the_field_and_not_applied(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(pool={"strategy": "dynamic", "workers": 2, "min_workers": 1,
                                  "max_workers": 20}), None)
    min_field = w.form.fields["pool.min_workers"]
    assert min_field.row.isVisibleTo(w.form), "dynamic-pool knobs are shown for a dynamic pool"
    min_field.editor.box.setValue(30)  # type: ignore[attr-defined]
    assert w.scenario.pool.min_workers == 1, "the refused value is not applied"
    assert _engine(w).scenario.pool.min_workers == 1
    assert min_field.invalid_reason and "pool.max_workers" in min_field.invalid_reason
    assert min_field.error.isVisibleTo(w.form) and "pool.max_workers" in min_field.error.text()
    assert "2px solid" in min_field.editor.widget.styleSheet()
    assert "Not applied" in min_field.editor.widget.toolTip()

    # raising the maximum makes the refused minimum valid: it goes through by itself
    w.form.fields["pool.max_workers"].editor.box.setValue(40)  # type: ignore[attr-defined]
    w.form.fields["pool.workers"].editor.box.setValue(30)  # type: ignore[attr-defined]
    assert w.scenario.pool.max_workers == 40
    assert w.scenario.pool.min_workers == 30
    assert w.form.invalid_fields() == {}

    weights = w.form.fields["priorities.weights"]
    weights.editor.line.setText("1, two")  # type: ignore[attr-defined]
    weights.editor.line.editingFinished.emit()  # type: ignore[attr-defined]
    assert weights.invalid_reason == "not a number: 'two'"
    assert w.scenario.priorities.weights == (1.0,)
    weights.editor.line.setText("1, 2, 4")  # type: ignore[attr-defined]
    weights.editor.line.editingFinished.emit()  # type: ignore[attr-defined]
    assert w.scenario.priorities.weights == (1.0, 2.0, 4.0)
    assert weights.invalid_reason is None


async def test_knobs_follow_shown_when(window: MainWindow) -> None:
    w = window
    f = w.form.fields
    assert not f["arrivals.burst_rate"].row.isVisibleTo(w.form)
    f["arrivals.process"].editor.box.setCurrentText("bursty")  # type: ignore[attr-defined]
    assert w.scenario.arrivals.process == "bursty"
    assert f["arrivals.burst_rate"].row.isVisibleTo(w.form)
    # threshold knobs need both a dynamic pool and the threshold autoscaler
    assert not f["pool.scale_up_threshold"].row.isVisibleTo(w.form)
    f["pool.strategy"].editor.box.setCurrentText("dynamic")  # type: ignore[attr-defined]
    assert f["pool.scale_up_threshold"].row.isVisibleTo(w.form)
    assert not f["pool.target_per_worker"].row.isVisibleTo(w.form)


async def test_invalid_scenario_file_shows_an_error_and_the_app_stays_usable(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\nname = "Broken"\n[pool]\nmax_workers = -3\n[arrivals]\n'
                   'rate = "fast"\n', encoding="utf-8")
    before = w.scenario
    assert not w.open_file(bad)
    boxes = _error_boxes(w)
    assert boxes, "an error dialog is shown"
    text = boxes[-1].text()
    assert "pool.max_workers" in text and "arrivals.rate" in text
    assert w.scenario is before and w.scenario_path is None
    assert "Cannot open bad.toml" in w.message.text()
    for b in boxes:
        b.close()
    assert not w.open_file(tmp_path / "missing.toml")
    for b in _error_boxes(w):
        b.close()

    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: len(w.history) > 10, what="frames after the error")
    # at full speed the compiled simulator may finish the default run between two looks
    assert _engine(w).state in (RunState.RUNNING, RunState.FINISHED)
    assert not _error_boxes(w)


async def test_engine_exception_is_shown_and_the_window_survives(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    w = window
    engine = _engine(w)

    def broken(budget: float) -> None:
        raise RuntimeError("simulated engine failure")

    monkeypatch.setattr(engine, "advance", broken)
    w.toggle_run()
    await wait_until(lambda: bool(_error_boxes(w)), what="the error dialog")
    assert "simulated engine failure" in (w.last_error or "")
    assert engine.state == RunState.PAUSED
    for b in _error_boxes(w):
        b.close()
    w.reset()
    w.toggle_run()
    await wait_until(lambda: len(w.history) > 0, what="frames from the rebuilt engine")


async def test_open_save_and_shipped_examples(window: MainWindow, tmp_path: Path) -> None:
    w = window
    examples = w.examples_menu.actions()
    assert len(examples) >= 5
    titles = [a.text() for a in examples]
    assert any("Bursty" in t for t in titles)
    for act in examples:
        act.trigger()
        assert not _error_boxes(w), act.text()
        assert w.scenario_path is not None and w.scenario_path.name.endswith(".toml")
    bursty = next(a for a in examples if "Bursty" in a.text())
    bursty.trigger()
    assert w.scenario.arrivals.process == "bursty"
    assert w.form.fields["pool.strategy"].editor.value() == "dynamic"
    assert "Bursty" in w.windowTitle()

    w.form.fields["arrivals.rate"].editor.box.setValue(4.5)  # type: ignore[attr-defined]
    assert w.isWindowModified()
    out = tmp_path / "mine.toml"
    assert w.save_file(out)
    assert not w.isWindowModified()
    w.new_scenario()
    assert w.scenario == Scenario()
    assert w.open_file(out)
    assert w.scenario.arrivals.rate == 4.5
    assert str(out.resolve()) in [a.text() for a in w.recent_menu.actions()]


async def test_export_csv_matches_the_frames(window: MainWindow, tmp_path: Path) -> None:
    s = scenario(run={"duration": 400.0, "seed": 11}, failures={"probability": 0.1})
    w = window
    w.set_scenario(s, None)
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: _engine(w).state == RunState.FINISHED, what="the end of the run")
    out = tmp_path / "frames.csv"
    assert w.export_csv(out) == 400
    headless = SimEngine(s)
    headless.run()
    expected = tmp_path / "expected.csv"
    write_frames_csv(expected, headless.take_frames())
    assert out.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8")

    png = tmp_path / "plots.png"
    assert w.export_png(png)
    assert png.stat().st_size > 5000


async def test_theory_tab(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 600.0, "warmup": 60.0},
                            arrivals={"rate": 3.0}, pool={"workers": 4}), None)
    w.tabs.setCurrentIndex(TAB_THEORY)
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: _engine(w).state == RunState.FINISHED)
    w.refresh()
    assert "M/M/c" in w.theory.headline.text() and "c = 4" in w.theory.headline.text()
    assert w.theory.table.item(0, 0).text() == "75 %"  # rho = 3 / 4
    assert w.theory.table.item(0, 1).text().endswith("%")
    assert w.plots.reference_shown
    beyond = w.theory.beyond.text()  # the formulas beyond Erlang C, or why not
    assert "Square-root staffing (P(wait) ≤ 20%): workers needed 6" in beyond
    assert "Allen–Cunneen (G/G/c) <i>(an approximation)</i>: Wq ≈" in beyond
    assert "Pollaczek–Khinchine (M/G/1): not shown, more than one server" in beyond

    w.set_scenario(scenario(arrivals={"process": "bursty"}), None)
    w.refresh()
    assert "not one" in w.theory.headline.text() and "bursty" in w.theory.headline.text()
    assert not w.plots.reference_shown
    assert "Allen–Cunneen (G/G/c) <i>(an approximation)</i>: not shown, arrivals are bursty" in (
        w.theory.beyond.text())


async def test_layout_and_scenario_are_remembered(qtbot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(800, 520)  # within the offscreen screen (800 x 800)
    first.form.fields["arrivals.rate"].editor.box.setValue(2.5)  # type: ignore[attr-defined]
    first.set_speed(100.0)
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.scenario.arrivals.rate == 2.5
    assert second.form.fields["arrivals.rate"].editor.value() == 2.5
    assert second.runner.speed == 100.0
    assert second.size().height() == 520


async def test_live_switch_reflects_whether_the_live_engine_exists(window: MainWindow) -> None:
    from queuelab.gui.engines import LIVE, unavailable_reason

    live = window.controls.mode_actions[LIVE]
    reason = unavailable_reason(LIVE)
    assert live.isEnabled() == (reason is None)
    if reason is not None:
        assert "not part of this build" in live.toolTip()


async def test_dead_letters_counted_and_reprocess_marked(window: MainWindow) -> None:
    """The dead-letter tab follows the engine; a reprocess is marked on the plots."""
    from queuelab.core.task import DeadLetterQuery
    from queuelab.gui.main_window import TAB_DEAD

    w = window
    w.set_scenario(scenario(run={"duration": 100_000.0},
                            failures={"poison_fraction": 0.05}), None)
    assert getattr(w.dead_letters, "engine", w.runner.engine) is w.runner.engine
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: _engine(w).totals().dead_lettered >= 20, what="dead letters")
    w.toggle_run()  # pause
    w.refresh()
    engine = _engine(w)
    dead = engine.totals().dead_lettered
    assert w.tabs.tabText(TAB_DEAD) == f"Dead letters ({dead:,})"
    page = await engine.dead_letters(DeadLetterQuery(limit=5))
    moved = await engine.reprocess([d.task.id for d in page.items])
    assert moved == 5
    w.refresh()
    markers = w.plots.plots["queue"].markers
    assert len(markers) == 1 and "reprocess" in markers[0].label.toPlainText()
    assert w.tabs.tabText(TAB_DEAD) == f"Dead letters ({dead - 5:,})"
    assert w.totals.balanced


async def test_live_engine_runs_in_the_same_window(window: MainWindow) -> None:
    """Simulated | Live: the same scenario on real asyncio workers, tuned the same way."""
    from queuelab.gui.engines import LIVE, SIMULATED, unavailable_reason

    if unavailable_reason(LIVE) is not None:
        pytest.skip("this build has no live engine")
    w = window
    w.set_scenario(scenario(run={"duration": 40.0, "warmup": 0.0, "time_scale": 0.02},
                            arrivals={"rate": 20.0}, service={"mean": 0.1},
                            # a queue of its own: an earlier test's leftovers would be asked about
                            queue={"backend": f"memory://window-live-{id(w)}"}), None)
    w.controls.mode_actions[LIVE].trigger()
    engine = w.runner.engine
    assert engine is not None and engine.kind == LIVE
    assert not w.controls.speed_actions[None].isEnabled(), "speed is the simulator's"
    w.toggle_run()
    await wait_until(lambda: len(w.history) >= 5, timeout=20, what="live frames")
    w.form.fields["arrivals.rate"].editor.box.setValue(30.0)  # type: ignore[attr-defined]
    assert w.form.fields["arrivals.rate"].invalid_reason is None
    assert engine.scenario.arrivals.rate == 30.0
    await wait_until(lambda: engine.state == RunState.FINISHED, timeout=30, what="the end")
    w.refresh()
    assert w.totals.balanced and engine.totals().created > 100
    assert len(w.plots.plots["queue"].markers) >= 1
    w.controls.mode_actions[SIMULATED].trigger()
    assert w.runner.engine is not None and w.runner.engine.kind == SIMULATED
    assert w.controls.speed_actions[None].isEnabled()
    await asyncio.sleep(0.2)  # the live engine's queue closes in the background


async def test_an_engine_failing_at_every_read_is_reported_once(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    w = window
    engine = _engine(w)

    def broken() -> None:
        raise RuntimeError("totals unavailable")

    monkeypatch.setattr(engine, "totals", broken)
    for _ in range(5):
        w.refresh()
    await asyncio.sleep(0.2)
    assert len(_error_boxes(w)) == 1
    assert "totals unavailable" in (w.last_error or "")
    for b in _error_boxes(w):
        b.close()
    monkeypatch.undo()
    w.reset()
    w.refresh()
    assert w.totals.text().startswith("created 0 = ")


async def test_step_from_idle_advances_one_event_and_says_which(window: MainWindow) -> None:
    """Step on an idle run starts it paused and processes exactly one event (it used to set
    the whole run going); each step's event is in the event log the Run menu opens."""
    w = window
    w.set_scenario(scenario(run={"duration": 600.0}), None)
    engine = _engine(w)
    w.controls.step_action.trigger()
    assert engine.state == RunState.PAUSED
    assert engine.events == 1
    await asyncio.sleep(0.1)
    assert engine.events == 1 and engine.state == RunState.PAUSED, "one step is one event"
    log = list(w.runner.event_log)
    assert log[0] == "the run starts: the pool is created and the first arrival drawn"
    assert log[1].endswith(": arrival of task 1")
    for _ in range(20):
        w.controls.step_action.trigger()
    assert engine.events == 21 and len(w.runner.event_log) == 22
    assert any(": worker w" in line and "ends its attempt at task" in line
               for line in w.runner.event_log)
    assert w.message.text().startswith("Step: ")
    w.show_event_log()
    box = w._event_log_box
    assert box is not None and box.isVisible()
    assert box.toPlainText().splitlines() == list(w.runner.event_log)
    box.close()


async def test_theory_tab_on_a_bounded_queue(window: MainWindow) -> None:
    """M/M/c/K replaces Erlang C, and Little's law uses the admitted rate (the rejected
    arrivals never wait): λ_admitted × Wq lands on the measured Lq."""
    w = window
    w.set_scenario(scenario(run={"duration": 20_000.0, "warmup": 200.0},
                            arrivals={"rate": 1.5}, pool={"workers": 2},
                            queue={"max_length": 3}), None)
    w.tabs.setCurrentIndex(TAB_THEORY)
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: _engine(w).state == RunState.FINISHED)
    w.refresh()
    assert "M/M/c/K (load shedding): P(rejected) 0.08511" in w.theory.beyond.text()
    assert "M/M/c/K with λ = 1.5/s offered" in w.theory.headline.text()
    assert w.theory.table.horizontalHeaderItem(0).text() == "M/M/c/K (c = 2, K = 5)"
    lq = float(w.theory.table.item(2, 1).text())
    little = float(w.theory.table.item(3, 1).text())
    assert little == pytest.approx(lq, rel=0.03)
