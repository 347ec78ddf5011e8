"""The Lessons menu and the lesson pane: a guided lesson played in the main window.

The pane shows the current step's Markdown, asks its prediction (choices or a number),
and drives the window as a person would: entering a step that sets up a run loads that
scenario into the form (`MainWindow.set_scenario`), Run resets and starts the simulated
run at full speed, and when the run finishes the step's checks are read from the window's
own frames and the engine's summary and books (`lessons.measure.evaluate`, the rule the
headless runner uses), shown pass or fail with the measured numbers, and the prediction's
answer is revealed. The lesson files are read and checked by `queuelab.lessons`; this
module only shows them.
"""

from __future__ import annotations

import html
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QRadioButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.engine import RunState
from queuelab.gui.engines import SIMULATED
from queuelab.io.bounded import FileRefused, read_text
from queuelab.lessons.files import MAX_LESSON_BYTES, load_lesson, shipped_lessons
from queuelab.lessons.measure import CheckResult, RunResult, evaluate
from queuelab.lessons.model import Lesson, LessonError, Step

if TYPE_CHECKING:
    from queuelab.gui.main_window import MainWindow

PASS_COLOR = "#1a7f37"
FAIL_COLOR = "#cf222e"
DOCK_WIDTH = 340


def lesson_title(path: Path) -> str:
    """A shipped lesson's title for the menu, read without checking the whole lesson (that
    happens when it is opened); the file name if the title cannot be read."""
    try:
        title = tomllib.loads(read_text(path, MAX_LESSON_BYTES)).get("title")
    except (FileRefused, tomllib.TOMLDecodeError):
        title = None
    return title if isinstance(title, str) and title.strip() else path.stem


class LessonPane(QWidget):
    """One lesson at a time: its steps, one shown, with Back, Run and Next."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.setObjectName("lesson_pane")
        self.window_ = window
        self.lesson: Lesson | None = None
        self.path: Path | None = None
        self.index = 0
        self.results: dict[int, list[CheckResult]] = {}  # step index -> its last run's checks
        self._awaiting: int | None = None  # the step whose run is going on
        self.dock: QDockWidget | None = None  # the dock holding the pane (`install`)
        self._state: RunState | None = None  # the run's state last reported

        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.counter = QLabel()
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)

        self.predict_box = QGroupBox("Predict before you run")
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.choices = QButtonGroup(self)
        self.choices_box = QWidget()
        self.choices_lay = QVBoxLayout(self.choices_box)
        self.choices_lay.setContentsMargins(0, 0, 0, 0)
        self.number = QDoubleSpinBox()
        self.number.setRange(-1e12, 1e12)
        self.number.setDecimals(3)
        self.number.setAccelerated(True)
        self.answer = QLabel()
        self.answer.setWordWrap(True)
        self.answer.setTextFormat(Qt.TextFormat.MarkdownText)
        p_lay = QVBoxLayout(self.predict_box)
        p_lay.addWidget(self.question)
        p_lay.addWidget(self.choices_box)
        p_lay.addWidget(self.number)
        p_lay.addWidget(self.answer)

        self.checks = QLabel()
        self.checks.setObjectName("lesson_checks")
        self.checks.setWordWrap(True)
        self.checks.setTextFormat(Qt.TextFormat.RichText)
        self.checks.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.knobs_button = QPushButton("Knobs")
        self.knobs_button.setCheckable(True)
        self.knobs_button.setChecked(True)
        self.knobs_button.setToolTip("Show or hide the scenario form: a narrow window hides it "
                                     "while a lesson is open, to leave the plots room")
        self.knobs_button.toggled.connect(lambda on: window.form.setVisible(on))
        self.back_button = QPushButton("◀ Back")
        self.run_button = QPushButton("Run this step")
        self.run_button.setDefault(True)
        self.next_button = QPushButton("Next ▶")
        self.back_button.clicked.connect(lambda: self.show_step(self.index - 1))
        self.next_button.clicked.connect(lambda: self.show_step(self.index + 1))
        self.run_button.clicked.connect(self.run_step)
        buttons = QHBoxLayout()
        buttons.addWidget(self.knobs_button)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.next_button)

        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.counter)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.predict_box)
        lay.addWidget(self.checks)
        lay.addLayout(buttons)
        window.runner.state_changed.connect(self._on_state)
        self._show_nothing()

    # -- lessons and steps --------------------------------------------------------------------

    @property
    def step(self) -> Step | None:
        return None if self.lesson is None else self.lesson.steps[self.index]

    def open_lesson(self, path: str | Path) -> bool:
        """Read and check a lesson file and show its first step; False (and the reasons, each
        with its place in the file) when it is refused."""
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            self.window_.show_error("Cannot open the lesson", f"{path}:\n{exc}")
            return False
        self.lesson, self.path = lesson, Path(path)
        self.results.clear()
        self._awaiting = None
        self.show_step(0)
        return True

    def show_step(self, index: int) -> None:
        """Show step `index` (kept within the lesson); load its scenario if it sets one up."""
        lesson = self.lesson
        if lesson is None:
            return
        self.index = max(0, min(index, len(lesson.steps) - 1))
        self._awaiting = None
        step = lesson.steps[self.index]
        self.title.setText(lesson.title)
        self.counter.setText(f"Step {self.index + 1} of {len(lesson.steps)}: {step.title}")
        self.text.setMarkdown(step.text)
        self._show_predict(step)
        self._show_results()
        self.back_button.setEnabled(self.index > 0)
        self.next_button.setEnabled(self.index < len(lesson.steps) - 1)
        self.run_button.setVisible(step.run)
        self.run_button.setEnabled(step.run)
        if step.setup and step.scenario is not None:
            w = self.window_
            if w.runner.kind != SIMULATED:
                w.set_mode(SIMULATED)
            w.set_scenario(step.scenario, None)

    def _show_nothing(self) -> None:
        self.title.setText("No lesson open")
        self.counter.setText("Lessons ▸ pick one")
        self.predict_box.hide()
        self.checks.clear()
        for b in (self.back_button, self.run_button, self.next_button):
            b.setEnabled(False)

    def _show_predict(self, step: Step) -> None:
        p = step.predict
        self.predict_box.setVisible(p is not None)
        for button in self.choices.buttons():
            self.choices.removeButton(button)
            button.deleteLater()
        self.answer.clear()
        if p is None:
            return
        self.question.setText(p.question)
        self.choices_box.setVisible(bool(p.choices))
        self.number.setVisible(not p.choices)
        for k, text in enumerate(p.choices):
            radio = QRadioButton(text)
            self.choices.addButton(radio, k)
            self.choices_lay.addWidget(radio)
        self.number.setSuffix(f" {p.unit}" if p.unit else "")
        self.number.setValue(0.0)
        if self.index in self.results:
            self._reveal(step)

    def guess(self) -> float | None:
        """The learner's prediction: the chosen choice's index, or the number; None when no
        choice is ticked."""
        p = self.step.predict if self.step is not None else None
        if p is None:
            return None
        if p.choices:
            k = self.choices.checkedId()
            return None if k < 0 else float(k)
        return self.number.value()

    # -- running and checking -----------------------------------------------------------------

    def run_step(self) -> None:
        """Run the scenario the window shows (the step's, unless the learner changed knobs)
        from the start, simulated, as fast as the machine goes; the checks follow its end."""
        step, w = self.step, self.window_
        if step is None or not step.run:
            return
        engine = w.runner.engine
        if engine is not None and engine.state != RunState.IDLE:
            w.reset()
        self.results.pop(self.index, None)
        self._show_results()
        self.answer.clear()
        self._awaiting = self.index
        w.set_speed(None)
        w.toggle_run()
        self.run_button.setEnabled(False)
        self.run_button.setText("Running…")

    def _on_state(self, state: RunState | None) -> None:
        before, self._state = self._state, state
        step = self.step
        if (self._awaiting is None and state == RunState.RUNNING
                and before in (None, RunState.IDLE) and step is not None and step.run):
            self._awaiting = self.index  # started from the toolbar: checked all the same
            self.results.pop(self.index, None)
            self._show_results()
            self.run_button.setEnabled(False)
        if self._awaiting is None:
            return
        if state in (RunState.RUNNING, RunState.PAUSED):
            self.run_button.setText("Running…" if state == RunState.RUNNING else
                                    "Paused: Resume in the toolbar")
            return
        if state != RunState.FINISHED:
            return
        index, self._awaiting = self._awaiting, None
        self.run_button.setEnabled(True)
        self.run_button.setText("Run again")
        if self.lesson is None or index != self.index:
            return
        self.results[index] = self.check_run(self.lesson.steps[index])
        self._show_results()
        self._reveal(self.lesson.steps[index])

    def check_run(self, step: Step) -> list[CheckResult]:
        """The step's checks on the run the window just finished."""
        w = self.window_
        engine = w.runner.engine
        assert engine is not None
        run = RunResult.from_rows(engine.summary(), engine.totals(), w.history.rows())
        return [evaluate(c, run) for c in step.checks]

    def _show_results(self) -> None:
        results = self.results.get(self.index)
        if results is None:
            step = self.step
            self.checks.setText("" if step is None or not step.checks else
                                "<i>Run this step: its checks are read when the run ends.</i>")
            return
        lines = []
        for r in results:
            color, mark = (PASS_COLOR, "✔ pass") if r.passed else (FAIL_COLOR, "✘ fail")
            lines.append(f'<span style="color:{color}"><b>{mark}</b></span> '
                         f"{html.escape(r.text())}")
        passed = sum(r.passed for r in results)
        head = f"<b>Checks: {passed} of {len(results)} passed</b>"
        self.checks.setText("<br>".join([head, *lines]) if results else "")

    def _reveal(self, step: Step) -> None:
        p = step.predict
        if p is None:
            return
        guess = self.guess()
        if guess is None:
            verdict = "You did not predict."
        elif p.judge(guess):
            verdict = "**Your prediction was right.**"
        else:
            verdict = "Your prediction was not quite right."
        self.answer.setText(f"{verdict} The answer: **{p.answer_text()}**.\n\n{p.reveal}")


def install(window: MainWindow) -> LessonPane:
    """Add the Lessons menu (before Help) and the lesson dock (hidden until a lesson opens)."""
    pane = LessonPane(window)
    dock = QDockWidget("Lesson", window)
    dock.setObjectName("lesson_dock")
    dock.setWidget(pane)
    dock.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea
                         | Qt.DockWidgetArea.RightDockWidgetArea)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    pane.dock = dock
    # the pane closed: the form comes back
    dock.visibilityChanged.connect(
        lambda shown: None if shown or dock.isVisible() else pane.knobs_button.setChecked(True))

    menu = QMenu("&Lessons", window)
    menu.setObjectName("lessons_menu")
    for n, path in enumerate(shipped_lessons(), 1):
        act = QAction(f"&{n}. {lesson_title(path)}" if n < 10 else f"{n}. {lesson_title(path)}",
                      window)
        act.setToolTip(str(path))
        act.triggered.connect(lambda _=False, p=path: open_in_dock(window, pane, p))
        menu.addAction(act)
    menu.addSeparator()
    open_act = QAction("&Open lesson file…", window)
    open_act.triggered.connect(lambda _=False: _open_dialog(window, pane))
    menu.addAction(open_act)
    bar = window.menuBar()
    help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
    if help_menu is not None:
        bar.insertMenu(help_menu, menu)
    else:
        bar.addMenu(menu)
    return pane


def open_in_dock(window: MainWindow, pane: LessonPane, path: Path | str) -> bool:
    """Open a lesson in the pane and show the dock beside the plots."""
    if not pane.open_lesson(path):
        return False
    if pane.dock is not None and not pane.dock.isVisible():
        central = window.centralWidget()
        # a window too narrow for the form, the plots and the pane: the form gives way
        # (the pane's Knobs button brings it back; closing the pane does too)
        narrow = central is not None and window.width() < (
            central.minimumSizeHint().width() + DOCK_WIDTH)
        pane.knobs_button.setChecked(not narrow)
        pane.dock.show()
        window.resizeDocks([pane.dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    return True


def _open_dialog(window: MainWindow, pane: LessonPane) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open a lesson", "",
                                          "Lessons (*.toml);;All files (*)")
    if path:
        open_in_dock(window, pane, path)
