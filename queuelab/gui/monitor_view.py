"""The window's side of the monitor engine: what it says in the status bar, and its alerts
as desktop notifications.

The engine keeps a status sentence (which way it reads the source, or why the last poll
failed) and a list of alerts; the window shows the sentence while it matters (always while
the source is unreachable) and raises each new alert once: a system-tray balloon where the
desktop has a tray, else the window asks for attention (taskbar) and the status bar says it.
Alerts are also markers on the plots: the engine lists them as changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDateTime, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QSpinBox,
    QSystemTrayIcon,
    QWidget,
)

from queuelab.core.monitoring import AlertRules
from queuelab.gui.engines import MONITOR

if TYPE_CHECKING:
    from collections.abc import Callable

    from queuelab.core.engine import Engine

ALERT_MS = 30_000  # how long an alert stays in the status bar
HISTORY_RANGES = (("Last &hour", 3600.0), ("Last &day", 86400.0), ("Last &week", 7 * 86400.0),
                  ("Last &30 days", 30 * 86400.0))
MONITOR_SPEED_REASON = ("A monitored queue goes at its own pace, on the wall clock: speed "
                        "is the simulator's")


class MonitorWatch(QObject):
    """Follows the window's engine while it is a monitor; see the module."""

    def __init__(self, window: QWidget, say: Callable[[str, int], None],
                 explain_rates: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window = window
        self._say = say
        self._explain = explain_rates
        self._explained = ""
        self._engine: Any = None
        self._alerted = 0
        self._said = ""
        self._tray: QSystemTrayIcon | None = None
        self.notified: list[str] = []  # every alert raised, for the tests and the log
        self.simulate_action = QAction("Simulate this &traffic", self)
        self.simulate_action.setToolTip(
            "Replay the arrivals recorded in the time range the plots show, in the simulator: "
            "a scenario with a trace of counts and an estimated service time, ready to tune")
        self.simulate_action.setEnabled(False)
        self.export_action = QAction("Export monitor &history as CSV…", self)
        self.export_action.setToolTip("Every sample of the time range the plots show, from "
                                      "the source's history file (no credentials in it)")
        self.export_action.setEnabled(False)
        self.pick_action = QAction("Pick a RabbitMQ &queue…", self)
        self.pick_action.setToolTip("The queues of the vhost, from the management API: "
                                    "watch another one")
        self.pick_action.setEnabled(False)
        self.pick_action.triggered.connect(self.pick_queue)
        self.on_pick: Callable[[str], object] = lambda name: None
        self.picker: QInputDialog | None = None
        #: Run > Monitor history: how much of the source's history the plots hold
        self.range_actions: list[QAction] = []
        for text, seconds in HISTORY_RANGES:
            act = QAction(text, self)
            act.setEnabled(False)
            act.triggered.connect(lambda _=False, s=seconds: self.show_history(s))
            self.range_actions.append(act)
        self.custom_action = QAction("&Custom range…", self)
        self.custom_action.setToolTip("Any stretch of the source's history, from and to a "
                                      "date and time")
        self.custom_action.setEnabled(False)
        self.custom_action.triggered.connect(self.ask_range)
        self.range_dialog: QDialog | None = None
        self.alerts_action = QAction("&Alert rules…", self)
        self.alerts_action.setToolTip("When the monitor raises an alert: a backlog above a "
                                      "threshold, or a backlog growing for some minutes")
        self.alerts_action.triggered.connect(self.ask_alert_rules)
        self.alerts_dialog: QDialog | None = None
        self.on_history: Callable[[list[Any]], None] = lambda frames: None

    def attach(self, engine: Engine | None) -> None:
        self._engine = engine if engine is not None and engine.kind == MONITOR else None
        self._alerted = 0
        self._said = ""
        self._explained = ""
        self._explain("")
        has_history = self._engine is not None and self._engine.history is not None
        self.simulate_action.setEnabled(has_history)
        self.export_action.setEnabled(has_history)
        lister = getattr(getattr(self._engine, "source", None), "list_queues", None)
        self.pick_action.setEnabled(lister is not None)
        for act in self.range_actions:
            act.setEnabled(has_history)
        self.custom_action.setEnabled(has_history)

    def pick_queue(self) -> None:
        """List the vhost's queues (in the background), then offer them to pick from."""
        from queuelab.gui.runner import spawn

        e = self._engine
        lister = getattr(getattr(e, "source", None), "list_queues", None)
        if lister is not None:
            spawn(self._offer(lister, e.source.queue), "listing the broker's queues")

    async def _offer(self, lister: Callable[[], Any], current: str) -> None:
        try:
            rows = await lister()
        except Exception as exc:  # a source error or a driver's: said, the window goes on
            self._say(f"Cannot list the queues: {exc}", 15_000)
            return
        names = [f"{name}  ({messages:,} messages, {consumers:,} consumers)"
                 for name, messages, consumers in rows]
        if not names:
            self._say("The broker has no queue in this vhost", 15_000)
            return
        dialog = QInputDialog(self._window)
        dialog.setObjectName("queue_picker")
        dialog.setWindowTitle("Watch which queue?")
        dialog.setLabelText("Queues of the vhost (read from the management API):")
        dialog.setComboBoxItems(names)
        here = next((i for i, (n, _, _) in enumerate(rows) if n == current), 0)
        dialog.setTextValue(names[here])
        dialog.textValueSelected.connect(
            lambda text: self.on_pick(rows[names.index(text)][0]) if text in names else None)
        self.picker = dialog
        dialog.open()

    def show_history(self, seconds: float) -> int:
        """Put the last `seconds` of the source's history (folded to ~2,000 points) in the
        plots, then the polls go on after it; returns the frames shown."""
        import time as _time

        e = self._engine
        if e is None or e.history is None:
            return 0
        e.history.flush()
        now = _time.time()
        frames = e.past_frames(now - seconds, now + 1.0)
        self.on_history(frames)
        return len(frames)

    def show_range(self, start: float, end: float) -> int:
        """Put the history from `start` to `end` (Unix seconds) in the plots; returns the
        frames shown (0, and a word in the status bar, when there are none)."""
        e = self._engine
        if e is None or e.history is None:
            return 0
        if not end > start:
            self._say("The range must end after it starts", 15_000)
            return 0
        e.history.flush()
        frames = e.past_frames(start, end)
        if not frames:
            self._say("The history holds no sample in that range", 15_000)
            return 0
        self.on_history(frames)
        return len(frames)

    def ask_range(self) -> QDialog:
        """From and to, as dates and times (the last two hours proposed)."""
        dialog = QDialog(self._window)
        dialog.setObjectName("history_range")
        dialog.setWindowTitle("Monitor history: custom range")
        now = QDateTime.currentDateTime()
        start, end = QDateTimeEdit(now.addSecs(-7200)), QDateTimeEdit(now)
        for edit in (start, end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        form = QFormLayout(dialog)
        form.addRow("From", start)
        form.addRow("To", end)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        form.addRow(buttons)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        dialog.accepted.connect(lambda: self.show_range(
            start.dateTime().toSecsSinceEpoch(), end.dateTime().toSecsSinceEpoch()))
        dialog.start_edit, dialog.end_edit = start, end  # type: ignore[attr-defined]
        self.range_dialog = dialog
        dialog.open()
        return dialog

    def ask_alert_rules(self) -> QDialog:
        """The backlog threshold and the growing rule, remembered for the next watches."""
        rules = saved_alert_rules()
        dialog = QDialog(self._window)
        dialog.setObjectName("alert_rules")
        dialog.setWindowTitle("Monitor alert rules")
        backlog = QSpinBox()
        backlog.setRange(0, 100_000_000)
        backlog.setSuffix(" tasks")
        backlog.setSpecialValueText("off")
        backlog.setValue(rules.backlog)
        growing = QDoubleSpinBox()
        growing.setRange(0.0, 7 * 24 * 60.0)
        growing.setDecimals(1)
        growing.setSuffix(" min")
        growing.setSpecialValueText("off")
        growing.setValue(rules.growing_minutes)
        form = QFormLayout(dialog)
        form.addRow(QLabel("An alert is a marker on the plots and a desktop notification, "
                           "once per episode."))
        form.addRow("Backlog above", backlog)
        form.addRow("Backlog growing for", growing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        form.addRow(buttons)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        dialog.accepted.connect(lambda: self.set_alert_rules(
            AlertRules(backlog.value(), growing.value())))
        dialog.backlog_edit, dialog.growing_edit = backlog, growing  # type: ignore[attr-defined]
        self.alerts_dialog = dialog
        dialog.open()
        return dialog

    def set_alert_rules(self, rules: AlertRules) -> None:
        """Use `rules` now (a watch in progress) and for the next watches."""
        from queuelab.gui import files

        s = files.settings()
        s.setValue("monitor/backlog", rules.backlog)
        s.setValue("monitor/growing_minutes", rules.growing_minutes)
        s.sync()
        if self._engine is not None:
            self._engine.set_alert_rules(rules)
        parts = [f"backlog above {rules.backlog:,}" if rules.backlog else "",
                 f"growing for {rules.growing_minutes:g} min" if rules.growing_minutes else ""]
        said = " or ".join(p for p in parts if p) or "none"
        self._say(f"Monitor alerts: {said}", 15_000)

    @property
    def active(self) -> bool:
        return self._engine is not None

    def refresh(self) -> None:
        e = self._engine
        if e is None:
            return
        status = str(getattr(e, "status", ""))
        if status and status != self._said:
            self._said = status
            self._say(status, 3_600_000 if "unreachable" in status else 15_000)
        rates = f"How the monitored source's rates are known - {e.source.derivation.text}"
        if rates != self._explained:  # known once the source's layout is
            self._explained = rates
            self._explain(rates)
        alerts = e.alerts
        for alert in alerts[self._alerted:]:
            self.notify(f"Queue alert: {alert.text}")
        self._alerted = len(alerts)

    def notify(self, text: str) -> None:
        self.notified.append(text)
        self._say(text, ALERT_MS)
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self._window.windowIcon(), self)
                self._tray.show()
            self._tray.showMessage("QueueLab", text, QSystemTrayIcon.MessageIcon.Warning)
        else:
            QApplication.alert(self._window)


def replay_folder() -> Path:
    """Where "Simulate this traffic" writes its trace and scenario (the user data folder)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("QueueLab", appauthor=False)) / "replays"


def write_traffic_replay(engine: Any, x_range: tuple[float, float], folder: Path) -> tuple[
        Path, str]:
    """The trace and scenario of the monitored history over `x_range` (scenario seconds of
    the watch, as the plots show them); returns the scenario's path and the report.
    Raises ReplayError when the history there cannot make one."""
    import time as _time

    from queuelab.io.replay import write_replay

    start = engine.started_at + x_range[0]
    end = engine.started_at + x_range[1] + 1e-6
    stamp = _time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    trace, scenario = folder / f"traffic-{stamp}.csv", folder / f"replay-{stamp}.toml"
    interval = max(10.0, (end - start) / 360.0)
    engine.history.flush()
    report = write_replay(engine.history, trace, start, end, interval=interval,
                          scenario_path=scenario)
    return scenario, report


def export_history_csv(engine: Any, x_range: tuple[float, float], path: Path) -> int:
    """Write the monitored history over `x_range` (scenario seconds of the watch) as CSV;
    returns the rows written."""
    engine.history.flush()
    start = engine.started_at + x_range[0]
    return int(engine.history.export_csv(path, start, engine.started_at + x_range[1] + 1e-6))


def saved_alert_rules() -> AlertRules:
    """The alert rules chosen in Alert rules… (none until then)."""
    from queuelab.gui import files

    s = files.settings()
    try:
        backlog = max(0, int(s.value("monitor/backlog", 0)))  # type: ignore[call-overload]
        growing = max(0.0, float(s.value("monitor/growing_minutes", 0.0)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return AlertRules()
    return AlertRules(backlog, growing)
