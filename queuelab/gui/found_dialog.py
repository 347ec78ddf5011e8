"""The question a live run asks when its queue already holds tasks or dead letters.

A durable queue may hold another program's work, or an earlier run's backlog and dead
letters a person still has to read: QueueLab never deletes them on its own. The dialog says
what is there, with the counts, and offers the four ways on: work them off as part of the
run (carried over in the books), start on a fresh queue name (proposed), purge (naming
exactly what goes), or cancel.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from queuelab.gui.runner import CANCEL, FRESH, KEEP, PURGE

if TYPE_CHECKING:
    from queuelab.runtime.found import FoundTasks


def fresh_queue_name(name: str) -> str:
    """A queue name for a clean start beside `name`: the same, stamped with the time."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


class FoundDialog(QMessageBox):
    """Asks what to do with what the queue holds; `chosen` says which (KEEP, FRESH, PURGE,
    CANCEL). Non-blocking (`open()`): the event loop, and the queue's connection, go on."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None, shown_url: str, queue: str, found: FoundTasks,
                 fresh: str) -> None:
        super().__init__(parent)
        self.setObjectName("found_dialog")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("The queue is not empty")
        what = found.describe()
        self.setText(f"The queue “{escape(queue)}” on {escape(shown_url)} already holds "
                     f"<b>{escape(what)}</b>.")
        lines = [
            "QueueLab deletes nothing it was not asked to. How should this run begin?",
            "",
            "• Work them off: this run claims them beside its own tasks; the books count "
            "them as carried over.",
            f"• Fresh queue: start on the empty queue “{fresh}” and leave this one as it is.",
            f"• Purge: delete {what} for good, then start.",
            "• Cancel: start nothing.",
        ]
        if found.in_flight:
            lines += ["", f"{found.in_flight:,} task(s) are leased by another process (or by "
                      "one that died): the run will share this queue, its books will come "
                      "from the backend, and Erlang C will not be shown."]
        if found.approximate:
            lines += ["", "These counts are approximate: the broker reports the leases other "
                      "processes hold from statistics that lag a few seconds."]
        self.setInformativeText("\n".join(lines))
        self.keep_button = self._button("Work them off", QMessageBox.ButtonRole.AcceptRole,
                                        KEEP)
        self.fresh_button = self._button(f"Fresh queue “{fresh}”",
                                         QMessageBox.ButtonRole.ActionRole, FRESH)
        self.purge_button = self._button(f"Purge: delete these {found.total:,}",
                                         QMessageBox.ButtonRole.DestructiveRole, PURGE)
        self.purge_button.setToolTip(f"Delete {what} for good, then start")
        self.cancel_button = self._button("Cancel", QMessageBox.ButtonRole.RejectRole, CANCEL)
        self.setDefaultButton(self.keep_button)
        self.setEscapeButton(self.cancel_button)
        self.buttonClicked.connect(self._clicked)

    def _button(self, text: str, role: QMessageBox.ButtonRole, choice: str) -> QPushButton:
        button = self.addButton(text, role)
        button.setProperty("choice", choice)
        return button

    def _clicked(self, button: QPushButton) -> None:
        self.chosen.emit(str(button.property("choice") or CANCEL))
