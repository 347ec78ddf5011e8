"""The workers table: one row per worker, updated in place so selection and scroll survive.

A model reset at every refresh would drop the user's selection and jump the scroll bar, and
rebuilding thousands of rows several times a second costs more than comparing them; the model
compares the new list with the old and signals only the rows that changed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.gui.plot_style import for_palette

COLUMNS = ("Worker", "State", "Current task", "Processed", "Failed")

_STATE_COLORS = {
    WorkerState.BUSY: QColor("#2e7d32"),
    WorkerState.IDLE: QColor("#757575"),
    WorkerState.STARTING: QColor("#1565c0"),
    WorkerState.BACKING_OFF: QColor("#ef6c00"),
    WorkerState.DRAINING: QColor("#6a1b9a"),
    WorkerState.BLOCKED: QColor("#c62828"),
}

_Index = QModelIndex | QPersistentModelIndex


class WorkersModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WorkerInfo] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        w = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return w.id
            if col == 1:
                return str(w.state)
            if col == 2:
                return w.task_id or ""
            if col == 3:
                return f"{w.processed:,}"
            return f"{w.failed:,}"
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            color = _STATE_COLORS.get(w.state)
            return None if color is None else for_palette(color)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def worker(self, row: int) -> WorkerInfo:
        return self._rows[row]

    def update(self, workers: list[WorkerInfo]) -> None:
        """Show `workers`: changed rows are signalled, rows added or removed at the end."""
        old = self._rows
        common = min(len(old), len(workers))
        first = last = -1
        for i in range(common):
            if old[i] != workers[i]:
                if first < 0:
                    first = i
                last = i
        if len(workers) < len(old):
            self.beginRemoveRows(QModelIndex(), len(workers), len(old) - 1)
            self._rows = list(workers)
            self.endRemoveRows()
        elif len(workers) > len(old):
            self.beginInsertRows(QModelIndex(), len(old), len(workers) - 1)
            self._rows = list(workers)
            self.endInsertRows()
        else:
            self._rows = list(workers)
        if first >= 0:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))


class WorkersTable(QTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers_model = WorkersModel(self)
        self.setModel(self.workers_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
