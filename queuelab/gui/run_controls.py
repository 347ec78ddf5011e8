"""The run toolbar (start/pause, step, reset, speed or live time scale, the virtual clock,
engine and backend) and the plots' view bar (time window, smoothing, follow).

Both only report what was asked (signals) and show what they are told (`set_state`,
`set_clock` …); the window decides what each request means for the engine it holds. The
view bar sits above the plots it steers, so the run toolbar fits a 1024-pixel window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QStyle,
    QToolBar,
    QToolButton,
    QWidget,
)

from queuelab.core.engine import RunState
from queuelab.core.urls import redact_url
from queuelab.gui.engines import LIVE, MONITOR, SIMULATED
from queuelab.gui.plot_items import format_clock
from queuelab.gui.plots import DEFAULT_WINDOW, SMOOTHING, WINDOWS

SPEEDS: tuple[tuple[str, float | None], ...] = (
    ("1×", 1.0), ("10×", 10.0), ("100×", 100.0), ("max", None),
)
DEFAULT_SPEED = 10.0
BACKEND_CHARS = 34  # a longer backend URL is elided in the middle; the full one on hover
LIVE_SPEED_REASON = ("A live run goes at real time × its time scale, fixed when it starts: "
                     "set the time scale instead")

_RUN_TEXT = {
    RunState.IDLE: ("Start", "Start the run (Space)"),
    RunState.RUNNING: ("Pause", "Pause the run (Space)"),
    RunState.PAUSED: ("Resume", "Resume the run (Space)"),
    RunState.STOPPING: ("Stopping…", "Waiting for tasks in flight to finish"),
    RunState.FINISHED: ("Run again", "Start a fresh run of the same scenario (Space)"),
}


def _spacer() -> QWidget:
    w = QWidget()
    w.setFixedWidth(8)
    return w


class RunControls(QToolBar):
    run_toggled = Signal()  # start, pause or resume, depending on the state
    step_requested = Signal()
    reset_requested = Signal()
    speed_changed = Signal(object)  # float | None (as fast as possible)
    mode_changed = Signal(str)  # SIMULATED, LIVE or MONITOR
    window_changed = Signal(object)  # float | None (whole run)
    smoothing_changed = Signal(float)  # seconds; 0 = off
    follow_requested = Signal()
    backend_requested = Signal()  # the person wants to choose the queue backend
    time_scale_changed = Signal(float)  # live runs: wall seconds per scenario second

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
        self.speed_tips = {s: a.toolTip() for s, a in self.speed_actions.items()}

        # live runs: the time scale takes the speed buttons' place (shown in Live mode only)
        self.time_scale = QDoubleSpinBox()
        self.time_scale.setObjectName("time_scale")
        self.time_scale.setDecimals(4)
        self.time_scale.setMaximumWidth(74)
        self.time_scale.setRange(0.0001, 100.0)
        self.time_scale.setSingleStep(0.01)
        self.time_scale.setKeyboardTracking(False)
        self.time_scale.setToolTip(
            "Wall-clock seconds per scenario second: 0.05 plays an hour in 3 minutes. Every "
            "duration of the run (service times, leases, backoffs) is multiplied by it; it is "
            "fixed once the run starts")
        self.time_scale.valueChanged.connect(self.time_scale_changed)
        self.time_scale_label = QLabel(" scale ")
        self.live_length = QLabel()
        self._live_widgets = [self.addWidget(self.time_scale_label),
                              self.addWidget(self.time_scale), self.addWidget(self.live_length)]
        for act in self._live_widgets:
            act.setVisible(False)

        self.addWidget(_spacer())
        self.clock = QLabel()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF())
        self.clock.setFont(mono)
        # a fixed width: a label that changes size 30 times a second relayouts the toolbar;
        # it is set for the run's duration (see set_clock), wide enough for any time in it
        self._clock_pattern = ""
        self.clock.setToolTip("Scenario time / run duration")
        self.addWidget(self.clock)
        self.set_clock(0.0, 0.0)

        self.addWidget(_spacer())
        self.mode_group = QActionGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_actions: dict[str, QAction] = {}
        for kind, text in ((SIMULATED, "Simulated"), (LIVE, "Live"), (MONITOR, "Monitor")):
            act = QAction(text, self)
            act.setCheckable(True)
            act.triggered.connect(lambda _=False, k=kind: self.mode_changed.emit(k))
            self.mode_group.addAction(act)
            self.addAction(act)
            self.mode_actions[kind] = act
        self.mode_actions[SIMULATED].setChecked(True)
        self.mode_actions[SIMULATED].setToolTip("Virtual time: fast, deterministic for a seed")
        self.mode_actions[LIVE].setToolTip("Real workers on the real backend, in real time")
        self.mode_actions[MONITOR].setToolTip(
            "Watch the backend's queue read-only (RabbitMQ, Celery, RQ, procrastinate, SQL): "
            "nothing is claimed, acked or changed; its history is kept")

        self.addWidget(_spacer())
        self._compact = False
        self._backend_shown = ""
        self.backend = QToolButton()
        self.backend.setObjectName("backend_button")
        self.backend.setAutoRaise(True)
        self.backend.setToolTip("The queue a live run uses: click to choose memory, SQLite, "
                                "PostgreSQL, Redis or RabbitMQ and test the connection")
        self.backend.clicked.connect(self.backend_requested)
        self.addWidget(self.backend)

        # the plots' view bar: placed above the plots by the window
        self.view_bar = QToolBar("View")
        self.view_bar.setObjectName("view_toolbar")
        self.view_bar.setMovable(False)
        self.view_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.view_bar.addWidget(QLabel("show "))
        self.window_box = QComboBox()
        for text, seconds in WINDOWS:
            self.window_box.addItem(text, seconds)
        self.window_box.setToolTip("Rolling window of the plots, or the whole run")
        self.window_box.activated.connect(
            lambda i: self.window_changed.emit(self.window_box.itemData(i)))
        self.view_bar.addWidget(self.window_box)
        self.set_window(DEFAULT_WINDOW)
        self.view_bar.addWidget(_spacer())
        self.view_bar.addWidget(QLabel("smooth "))
        self.smoothing_box = QComboBox()
        for text, seconds in SMOOTHING:
            self.smoothing_box.addItem(text, seconds)
        self.smoothing_box.setToolTip("Average every rate and percentage over this window "
                                      "(one-second frames are noisy); said in the axis labels")
        self.smoothing_box.activated.connect(
            lambda i: self.smoothing_changed.emit(float(self.smoothing_box.itemData(i))))
        self.view_bar.addWidget(self.smoothing_box)
        self.view_bar.addWidget(_spacer())
        self.follow_action = QAction("Follow", self)
        self.follow_action.setToolTip("Scroll with the run again after a zoom or pan")
        self.follow_action.setEnabled(False)
        self.follow_action.triggered.connect(self.follow_requested)
        self.view_bar.addAction(self.follow_action)

    COMPACT_BELOW = 1180  # narrower than this, Start/Step/Reset show their icons only

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.set_compact(event.size().width() < self.COMPACT_BELOW)

    def set_compact(self, compact: bool) -> None:
        """Icons only for Start/Step/Reset in a narrow window (their tooltips say what they
        do), so the clock, the engine and the backend stay on the toolbar."""
        style = Qt.ToolButtonStyle.ToolButtonIconOnly if compact \
            else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        for act in (self.run_action, self.step_action, self.reset_action):
            button = self.widgetForAction(act)
            if isinstance(button, QToolButton) and button.toolButtonStyle() != style:
                button.setToolButtonStyle(style)
        if compact != self._compact:
            self._compact = compact
            self._show_backend()

    # -- what the window shows here -------------------------------------------------------------

    def set_state(self, state: RunState, can_step: bool = True) -> None:
        text, tip = _RUN_TEXT[state]
        self.run_action.setText(text)
        self.run_action.setToolTip(tip)
        self.run_action.setIcon(self._pause_icon if state == RunState.RUNNING
                                else self._play_icon)
        self.run_action.setEnabled(state != RunState.STOPPING)
        self.step_action.setEnabled(can_step and state in (RunState.IDLE, RunState.PAUSED))

    def set_clock(self, now: float, duration: float | None) -> None:
        """`t = now / duration`; a watch with no end (None): `watching for now`."""
        if duration is None:
            if self._clock_pattern != "watching":
                self._clock_pattern = "watching"
                self.clock.setFixedWidth(self.clock.fontMetrics().horizontalAdvance(
                    "watching for 000:00:00") + 10)
            self.clock.setText(f"watching for {format_clock(now)}")
            return
        end = format_clock(duration)
        pattern = "0" * len(end)
        if pattern != self._clock_pattern:  # room for any time up to this duration
            self._clock_pattern = pattern
            digits = "".join("0" if ch.isdigit() else ch for ch in end)
            self.clock.setFixedWidth(self.clock.fontMetrics().horizontalAdvance(
                f"t = {digits} / {digits}") + 10)
        self.clock.setText(f"t = {format_clock(now)} / {end}")

    def set_backend(self, url: str) -> None:
        """The backend, its password masked, elided in the middle when long (full on hover)."""
        shown = redact_url(url)
        if len(shown) > BACKEND_CHARS:
            half = (BACKEND_CHARS - 1) // 2
            shown = shown[:half] + "…" + shown[-half:]
        self._backend_shown = shown
        self._show_backend()
        self.backend.setToolTip(f"{redact_url(url)}\nThe queue a live run uses: click to choose "
                                "memory, SQLite, PostgreSQL, Redis or RabbitMQ and test the "
                                "connection")

    def _show_backend(self) -> None:
        prefix = "" if self._compact else "backend: "
        self.backend.setText(f"{prefix}{self._backend_shown} ▾")

    def set_time_scale(self, scale: float, duration: float) -> None:
        """Show the live time scale and how long the run will take at it."""
        self.time_scale.blockSignals(True)
        self.time_scale.setValue(scale)
        self.time_scale.blockSignals(False)
        self.live_length.setText(f" → {format_clock(duration * scale)} ")
        self.live_length.setToolTip(f"At this time scale the run's {format_clock(duration)} of "
                                    f"scenario time play in {format_clock(duration * scale)} "
                                    "of wall-clock time")

    def set_speed(self, speed: float | None) -> None:
        act = self.speed_actions.get(speed)
        if act is not None:
            act.setChecked(True)

    def set_speed_enabled(self, enabled: bool, reason: str = "", *,
                          time_scale: bool = True) -> None:
        """Speed is the simulator's: for a live run the buttons are disabled, say why, and
        the time scale shows beside them (`time_scale=False`: a monitor has none either)."""
        for speed, act in self.speed_actions.items():
            act.setEnabled(enabled)
            act.setToolTip(self.speed_tips[speed] if enabled else reason or LIVE_SPEED_REASON)
        for act in self._live_widgets:
            act.setVisible(not enabled and time_scale)

    def set_time_scale_enabled(self, enabled: bool) -> None:
        """The time scale can be changed before a live run starts, not during it."""
        self.time_scale.setEnabled(enabled)

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
