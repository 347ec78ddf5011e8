"""The window's side of the monitor engine: what it says in the status bar, and its alerts
as desktop notifications.

The engine keeps a status sentence (which way it reads the source, or why the last poll
failed) and a list of alerts; the window shows the sentence while it matters (always while
the source is unreachable) and raises each new alert once: a system-tray balloon where the
desktop has a tray, else the window asks for attention (taskbar) and the status bar says it.
Alerts are also markers on the plots: the engine lists them as changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from queuelab.gui.engines import MONITOR

if TYPE_CHECKING:
    from collections.abc import Callable

    from queuelab.core.engine import Engine

ALERT_MS = 30_000  # how long an alert stays in the status bar
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

    def attach(self, engine: Engine | None) -> None:
        self._engine = engine if engine is not None and engine.kind == MONITOR else None
        self._alerted = 0
        self._said = ""
        self._explained = ""
        self._explain("")

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
