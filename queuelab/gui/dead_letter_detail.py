"""One dead letter in full: what it carried, why it died and every attempt it made.

The table shows a line per task; deciding whether to reprocess needs the whole story —
the payload, the full error and whether the attempts failed fast, timed out or were
refused — which is what this view lays out.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.task import Attempt, DeadLetter
from queuelab.gui.dead_letter_model import format_time

ATTEMPT_COLUMNS = ("#", "Start", "End", "Outcome", "Error", "Backoff", "Worker")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_NOTHING = "Select a dead letter to see its payload, error and attempts."


def pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)


def attempt_cells(a: Attempt) -> tuple[str, ...]:
    """One row of the attempt history, as shown (the error's kind; its text is the tooltip)."""
    error = a.error_kind or a.error
    backoff = "–" if a.backoff is None else f"{a.backoff:.2f} s"
    return (str(a.number), format_time(a.started, 2), format_time(a.ended, 2),
            "running" if a.outcome is None else str(a.outcome), error, backoff, a.worker)


class DeadLetterDetail(QWidget):
    """Header, full error, pretty payload and the attempt history of one dead letter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shown: DeadLetter | None = None
        self.title = QLabel(_NOTHING)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #c62828;")

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.payload = QPlainTextEdit()
        self.payload.setReadOnly(True)
        self.payload.setFont(mono)
        self.payload.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.payload.setPlaceholderText("payload")

        self.attempts = QTableWidget(0, len(ATTEMPT_COLUMNS))
        self.attempts.setHorizontalHeaderLabels(ATTEMPT_COLUMNS)
        self.attempts.verticalHeader().setVisible(False)
        self.attempts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.attempts.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.attempts.setWordWrap(False)
        header = self.attempts.horizontalHeader()  # a few rows: fitting them is cheap
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.attempts.verticalHeader().setDefaultSectionSize(
            self.attempts.fontMetrics().height() + 6)

        body = QSplitter(Qt.Orientation.Vertical)
        body.setChildrenCollapsible(False)
        body.addWidget(self.payload)
        body.addWidget(self.attempts)
        body.setSizes([120, 120])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.error)
        layout.addWidget(body, 1)
        self.clear()

    @property
    def shown_id(self) -> str | None:
        return None if self.shown is None else self.shown.id

    def clear(self) -> None:
        self.shown = None
        self.title.setText(_NOTHING)
        self.error.setText("")
        self.error.hide()
        self.payload.setPlainText("")
        self.attempts.setRowCount(0)

    def show_dead_letter(self, d: DeadLetter) -> None:
        if d == self.shown:
            return
        t = d.task
        self.shown = d
        self.title.setText(
            f"<b>{t.id}</b> · priority {t.priority} · {t.attempts} attempt"
            f"{'' if t.attempts == 1 else 's'} · arrived {format_time(t.created_at, 2)} · "
            f"dead-lettered {format_time(d.dead_lettered_at, 2)}"
            + (" · <i>poison</i>" if t.poison else ""))
        self.error.setText(f"<b>{d.error_kind}</b>: {_escape(d.error)}")
        self.error.show()
        text = pretty_json(t.payload)
        if self.payload.toPlainText() != text:
            self.payload.setPlainText(text)
        table = self.attempts
        table.setRowCount(len(t.history))
        for row, a in enumerate(t.history):
            for col, cell in enumerate(attempt_cells(a)):
                item = QTableWidgetItem(cell)
                if col in (0, 1, 2, 5):
                    item.setTextAlignment(_RIGHT)
                if col == 4:
                    item.setToolTip(f"{a.error_kind}: {a.error}" if a.error_kind else a.error)
                table.setItem(row, col, item)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
