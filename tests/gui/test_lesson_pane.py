"""The Lessons menu and pane: a lesson opened from the menu loads its scenario into the
window, takes a prediction, runs, and shows its checks with the measured numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMenu

from queuelab.core.engine import RunState
from queuelab.gui.history import FrameHistory
from queuelab.gui.main_window import MainWindow
from queuelab.lessons.files import shipped_lessons
from queuelab.lessons.model import MAX_FRAMES
from tests.gui.helpers import wait_until


def lessons_menu(w: MainWindow) -> QMenu:
    menu = w.findChild(QMenu, "lessons_menu")
    assert isinstance(menu, QMenu)
    return menu


def test_the_window_keeps_every_frame_a_lesson_run_may_make() -> None:
    assert FrameHistory().capacity >= MAX_FRAMES


@pytest.mark.asyncio
async def test_a_lesson_from_the_menu_predicts_runs_and_checks(window: MainWindow) -> None:
    w = window
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles.index("&Lessons") == titles.index("&Help") - 1
    actions = [a for a in lessons_menu(w).actions() if not a.isSeparator()]
    assert len(actions) == len(shipped_lessons()) + 1
    assert actions[-1].text() == "&Open lesson file…"
    storm = next(a for a in actions if "Retry storm" in a.text())
    storm.trigger()

    pane = w.lessons
    assert pane.dock is not None and pane.dock.isVisible()
    assert pane.index == 0 and "Step 1 of" in pane.counter.text()
    assert "t = 120 s" in pane.text.toPlainText()
    # the step's scenario is in the window: the form shows the clients' knobs
    assert w.scenario.clients.retries == 3 and w.scenario.arrivals.rate == 70.0
    assert pane.checks.text().startswith("<i>Run this step")

    # predict: the third choice, "it is not gone"
    assert pane.predict_box.isVisibleTo(pane) and len(pane.choices.buttons()) == 3
    pane.choices.button(2).setChecked(True)
    assert pane.answer.text() == ""  # not revealed before the run

    pane.run_button.click()
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: "Checks:" in pane.checks.text(), 60.0, "the checks")
    assert engine.state == RunState.FINISHED and engine.now == 600.0
    results = pane.results[0]
    assert all(r.passed for r in results), [r.text() for r in results]
    text = pane.checks.text()
    assert "Checks: 4 of 4 passed" in text and "✔ pass" in text
    assert "Goodput, last 5 minutes" in text and "measured 0 /s" in text
    assert "Your prediction was right" in pane.answer.text()
    assert "sustaining loop" in pane.answer.text()

    # the next step changes one knob of the same scenario; a wrong guess is said so
    pane.next_button.click()
    assert pane.index == 1 and w.scenario.clients.retries == 0
    assert pane.run_button.isEnabled()
    pane.run_button.click()
    await wait_until(lambda: 1 in pane.results, 60.0, "the second step's checks")
    assert [r.passed for r in pane.results[1]] == [True, True, True]
    assert "measured 37 s" in pane.checks.text()  # the backlog drained 37 s after 180 s

    pane.back_button.click()  # back: the first step's results are still shown
    assert pane.index == 0 and "Checks: 4 of 4 passed" in pane.checks.text()

    # a run started from the toolbar instead of the pane is checked too
    pane.show_step(2)
    assert w.scenario.clients.retry_budget == 0.1 and 2 not in pane.results
    w.set_speed(None)
    w.controls.run_action.trigger()
    await wait_until(lambda: 2 in pane.results, 60.0, "the third step's checks")
    assert all(r.passed for r in pane.results[2])


@pytest.mark.asyncio
async def test_a_check_that_fails_is_shown_failed_with_its_number(
        window: MainWindow, tmp_path: Path) -> None:
    lesson = tmp_path / "l.toml"
    lesson.write_text('''format = 1
title = "Too optimistic"
[scenario.s]
run = { duration = 200.0, warmup = 0.0, seed = 1 }
arrivals = { rate = 5.0 }
service = { mean = 0.1 }
pool = { strategy = "single" }
[[step]]
title = "Guess"
scenario = "s"
run = true
[step.predict]
question = "Utilization in percent?"
answer = 50
unit = "%"
[[step.check]]
label = "Utilization"
value = "utilization"
min = 0.9
''', encoding="utf-8")
    from queuelab.gui.lesson_pane import open_in_dock

    pane = window.lessons
    assert open_in_dock(window, pane, lesson)
    assert pane.number.isVisibleTo(pane) and pane.number.suffix() == " %"
    pane.number.setValue(80.0)
    pane.run_button.click()
    await wait_until(lambda: 0 in pane.results, 30.0, "the checks")
    (result,) = pane.results[0]
    assert not result.passed
    assert "✘ fail" in pane.checks.text() and "Checks: 0 of 1 passed" in pane.checks.text()
    assert f"measured {result.measured:.4g} (want at least 0.9)" in pane.checks.text()
    assert "not quite right" in pane.answer.text() and "**50 %**" in pane.answer.text()


@pytest.mark.asyncio
async def test_a_refused_lesson_says_where(window: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\ntitle = "x"\n[[step]]\ntitle = "y"\nrun = "yes"\n',
                   encoding="utf-8")
    shown: list[str] = []
    window.show_error = lambda title, text: shown.append(text)  # type: ignore[method-assign]
    assert not window.lessons.open_lesson(bad)
    assert "step[0].run: must be true or false" in shown[0]
    assert window.lessons.lesson is None
