"""The dead-letter table's model: one page of dead letters, as the engine returned it.

It holds only the page on screen (a few hundred rows), never the whole queue: the engine
filters, orders and slices. Refreshing a page that did not change signals nothing, so a
live run does not repaint the table or disturb the user's selection every second.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from queuelab.core.outcome import POISON, TIMEOUT
from queuelab.core.task import DeadLetter
from queuelab.gui.plot_style import for_palette

_Index = QModelIndex | QPersistentModelIndex
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
PREVIEW_CHARS = 160  # the view elides further; the full payload is in the detail view
TOOLTIP_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    order_by: str | None  # the engine's sort key; None when the engine cannot sort by it
    width: int  # initial width in pixels
    numeric: bool = False
    stretch: bool = False  # takes a share of the width the other columns leave


COLUMNS = (
    Column("Task", "id", 88),
    Column("Priority", "priority", 58, numeric=True),
    Column("Attempts", "attempts", 66, numeric=True),
    Column("Error", "error_kind", 96),
    Column("Message", None, 160, stretch=True),
    Column("First arrived", "created_at", 92, numeric=True),
    Column("Dead-lettered", "dead_lettered_at", 100, numeric=True),
    Column("Payload", None, 110),  # the message, not the payload, takes the spare width
)
COL_ID, COL_PRIORITY, COL_ATTEMPTS, COL_KIND, COL_MESSAGE, COL_CREATED, COL_DEAD, COL_PAYLOAD = (
    range(len(COLUMNS)))
SORT_COLUMN = {c.order_by: i for i, c in enumerate(COLUMNS) if c.order_by is not None}

_KIND_COLORS = {POISON: QColor("#8e24aa"), TIMEOUT: QColor("#ef6c00")}
_KIND_DEFAULT = QColor("#c62828")


def format_time(seconds: float | None, decimals: int = 1) -> str:
    """Scenario seconds as h:mm:ss.s (m:ss.s under an hour): the toolbar clock's form, finer."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    sign = "-" if seconds < 0 else ""
    scale = 10 ** decimals
    total = round(abs(seconds) * scale)
    whole, frac = divmod(total, scale)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    text = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    if decimals:
        text += f".{frac:0{decimals}d}"
    return sign + text


def payload_preview(payload: Any, limit: int = PREVIEW_CHARS) -> str:
    """Compact one-line JSON, cut at `limit` characters."""
    try:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(payload)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DeadLetterModel(QAbstractTableModel):
    """The rows of the current page, with lookups by task id."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[DeadLetter] = []
        self._row_of: dict[str, int] = {}
        self._previews: dict[str, str] = {}

    # -- Qt's model interface --------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        col = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return ("Click to sort (the engine sorts every dead letter, not just this page)"
                    if col.order_by else "Not sortable")
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        d = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(d, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_MESSAGE:
                return d.error
            if col == COL_PAYLOAD:
                return payload_preview(d.task.payload, TOOLTIP_CHARS)
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[col].numeric:
            return _RIGHT
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_KIND:
            return for_palette(_KIND_COLORS.get(d.error_kind, _KIND_DEFAULT))
        return None

    def _display(self, d: DeadLetter, col: int) -> str:
        if col == COL_ID:
            return d.task.id
        if col == COL_PRIORITY:
            return str(d.task.priority)
        if col == COL_ATTEMPTS:
            return str(d.task.attempts)
        if col == COL_KIND:
            return d.error_kind
        if col == COL_MESSAGE:
            return d.error
        if col == COL_CREATED:
            return format_time(d.task.created_at)
        if col == COL_DEAD:
            return format_time(d.dead_lettered_at)
        preview = self._previews.get(d.id)
        if preview is None:
            preview = self._previews[d.id] = payload_preview(d.task.payload)
        return preview

    # -- the page --------------------------------------------------------------------------------

    @property
    def rows(self) -> list[DeadLetter]:
        return self._rows

    def ids(self) -> list[str]:
        return [d.id for d in self._rows]

    def dead_letter(self, row: int) -> DeadLetter:
        return self._rows[row]

    def row_of(self, task_id: str) -> int | None:
        return self._row_of.get(task_id)

    def update(self, rows: list[DeadLetter]) -> bool:
        """Show `rows`. Returns True when the rows were rebuilt (the view must restore
        selection and scroll), False when they were updated in place or appended."""
        old = self._rows
        old_ids = [d.id for d in old]
        new_ids = [d.id for d in rows]
        n = len(old)
        if new_ids[:n] == old_ids:  # same rows, maybe more at the end: the common live case
            changed = [i for i in range(n) if old[i] != rows[i]]
            self._rows[:n] = rows[:n]
            if changed:
                for i in changed:
                    self._previews.pop(rows[i].id, None)
                self.dataChanged.emit(self.index(min(changed), 0),
                                      self.index(max(changed), len(COLUMNS) - 1))
            if len(rows) > n:
                self.beginInsertRows(QModelIndex(), n, len(rows) - 1)
                self._rows.extend(rows[n:])
                self._row_of.update((d.id, i) for i, d in enumerate(rows[n:], n))
                self.endInsertRows()
            return False
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {d.id: i for i, d in enumerate(self._rows)}
        self._previews = {}
        self.endResetModel()
        return True
