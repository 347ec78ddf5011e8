"""The run toolbar: start/pause, step, reset, speed, the virtual clock, engine and view choice.

The toolbar only reports what was asked (signals) and shows what it is told (`set_state`,
`set_clock` …); the window decides what each request means for the engine it holds.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSizePolicy,
    QStyle,
    QToolBar,
    QToolButton,
    QWidget,
)

from queuelab.core.engine import RunState
from queuelab.core.urls import redact_url
from queuelab.gui.engines import LIVE, SIMULATED
from queuelab.gui.plot_items import format_clock
from queuelab.gui.plots import WINDOWS

SPEEDS: tuple[tuple[str, float | None], ...] = (
    ("1×", 1.0), ("10×", 10.0), ("100×", 100.0), ("max", None),
)
DEFAULT_SPEED = 10.0

_RUN_TEXT = {
    RunState.IDLE: ("Start", "Start the run (Space)"),
    RunState.RUNNING: ("Pause", "Pause the run (Space)"),
    RunState.PAUSED: ("Resume", "Resume the run (Space)"),
    RunState.STOPPING: ("Stopping…", "Waiting for tasks in flight to finish"),
    RunState.FINISHED: ("Run again", "Start a fresh run of the same scenario (Space)"),
}


def _spacer() -> QWidget:
    w = QWidget()
    w.setFixedWidth(14)
    return w


class RunControls(QToolBar):
    run_toggled = Signal()  # start, pause or resume, depending on the state
    step_requested = Signal()
    reset_requested = Signal()
    speed_changed = Signal(object)  # float | None (as fast as possible)
    mode_changed = Signal(str)  # SIMULATED or LIVE
    window_changed = Signal(object)  # float | None (whole run)
    follow_requested = Signal()
    backend_requested = Signal()  # the person wants to choose the queue backend

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Run", parent)
        self.setObjectName("run_toolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)

        self.run_action = QAction(self._play_icon, "Start", self)
        self.run_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.run_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.run_action.triggered.connect(self.run_toggled)
        self.addAction(self.run_action)

        self.step_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward),
                                   "Step", self)
        self.step_action.setToolTip("Advance by one event (Ctrl+.)")
        self.step_action.setShortcut(QKeySequence("Ctrl+."))
        self.step_action.triggered.connect(self.step_requested)
        self.addAction(self.step_action)

        self.reset_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload),
                                    "Reset", self)
        self.reset_action.setToolTip("Discard this run and rebuild the engine from the "
                                     "scenario as it is now (Ctrl+R)")
        self.reset_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reset_action.triggered.connect(self.reset_requested)
        self.addAction(self.reset_action)

        self.addWidget(_spacer())
        self.addWidget(QLabel("speed "))
        self.speed_group = QActionGroup(self)
        self.speed_group.setExclusive(True)
        self.speed_actions: dict[float | None, QAction] = {}
        for text, speed in SPEEDS:
            act = QAction(text, self)
            act.setCheckable(True)
            act.setToolTip("As fast as possible (time-boxed slices keep the window responsive)"
                           if speed is None else f"{speed:g} scenario seconds per second")
            act.triggered.connect(lambda _=False, s=speed: self.speed_changed.emit(s))
            self.speed_group.addAction(act)
            self.addAction(act)
            self.speed_actions[speed] = act
        self.speed_actions[DEFAULT_SPEED].setChecked(True)

        self.addWidget(_spacer())
        self.clock = QLabel()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF() * 1.15)
        self.clock.setFont(mono)
        # a fixed width: a label that changes size 30 times a second relayouts the toolbar
        self.clock.setMinimumWidth(self.clock.fontMetrics().horizontalAdvance(
            "t = 000:00:00 / 000:00:00") + 8)
        self.clock.setToolTip("Scenario time / run duration")
        self.addWidget(self.clock)
        self.set_clock(0.0, 0.0)

        self.addWidget(_spacer())
        self.mode_group = QActionGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_actions: dict[str, QAction] = {}
        for kind, text in ((SIMULATED, "Simulated"), (LIVE, "Live")):
            act = QAction(text, self)
            act.setCheckable(True)
            act.triggered.connect(lambda _=False, k=kind: self.mode_changed.emit(k))
            self.mode_group.addAction(act)
            self.addAction(act)
            self.mode_actions[kind] = act
        self.mode_actions[SIMULATED].setChecked(True)
        self.mode_actions[SIMULATED].setToolTip("Virtual time: fast, deterministic for a seed")
        self.mode_actions[LIVE].setToolTip("Real workers on the real backend, in real time")

        self.addWidget(_spacer())
        self.backend = QToolButton()
        self.backend.setObjectName("backend_button")
        self.backend.setAutoRaise(True)
        self.backend.setToolTip("The queue a live run uses: click to choose memory, SQLite, "
                                "PostgreSQL, Redis or RabbitMQ and test the connection")
        self.backend.clicked.connect(self.backend_requested)
        self.addWidget(self.backend)

        stretch = QWidget()
        stretch.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(stretch)
        self.addWidget(QLabel("show "))
        self.window_box = QComboBox()
        for text, seconds in WINDOWS:
            self.window_box.addItem(text, seconds)
        self.window_box.setToolTip("Rolling window of the plots, or the whole run")
        self.window_box.activated.connect(
            lambda i: self.window_changed.emit(self.window_box.itemData(i)))
        self.addWidget(self.window_box)
        self.follow_action = QAction("Follow", self)
        self.follow_action.setToolTip("Scroll with the run again after a zoom or pan")
        self.follow_action.setEnabled(False)
        self.follow_action.triggered.connect(self.follow_requested)
        self.addAction(self.follow_action)

    # -- what the window shows here -------------------------------------------------------------

    def set_state(self, state: RunState, can_step: bool = True) -> None:
        text, tip = _RUN_TEXT[state]
        self.run_action.setText(text)
        self.run_action.setToolTip(tip)
        self.run_action.setIcon(self._pause_icon if state == RunState.RUNNING
                                else self._play_icon)
        self.run_action.setEnabled(state != RunState.STOPPING)
        self.step_action.setEnabled(can_step and state in (RunState.IDLE, RunState.PAUSED))

    def set_clock(self, now: float, duration: float) -> None:
        self.clock.setText(f"t = {format_clock(now)} / {format_clock(duration)}")

    def set_backend(self, url: str) -> None:
        self.backend.setText(f"backend: {redact_url(url)} ▾")

    def set_speed(self, speed: float | None) -> None:
        act = self.speed_actions.get(speed)
        if act is not None:
            act.setChecked(True)

    def set_speed_enabled(self, enabled: bool, reason: str = "") -> None:
        for act in self.speed_actions.values():
            act.setEnabled(enabled)
            if reason:
                act.setToolTip(reason)

    def set_mode(self, kind: str) -> None:
        self.mode_actions[kind].setChecked(True)

    def set_mode_available(self, kind: str, reason: str | None) -> None:
        """Enable an engine choice, or disable it with the reason as its tooltip."""
        act = self.mode_actions[kind]
        act.setEnabled(reason is None)
        if reason is not None:
            act.setToolTip(reason)

    def set_window(self, seconds: float | None) -> None:
        i = self.window_box.findData(seconds)
        if i >= 0:
            self.window_box.setCurrentIndex(i)

    def set_following(self, following: bool) -> None:
        self.follow_action.setEnabled(not following)
