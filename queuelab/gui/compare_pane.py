"""The Compare tab: the objective, the pinned runs (show, rename, remove, save) and the
table of their figures beside the current run's, differences coloured only where real.

The figures and the "is it real" test are `tuning.compare`'s; this pane only shows them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from queuelab.gui.plot_style import is_dark, readable
from queuelab.tuning.compare import (
    COMPARED,
    difference,
    estimates,
    format_difference,
    format_estimate,
)
from queuelab.tuning.spec import OBJECTIVES, CostModel, Objective

OBJECTIVE_NAMES = {"wait_p95": "p95 wait", "wait_p99": "p99 wait", "mean_wait": "mean wait"}
BETTER, WORSE, REAL = "#2e7d32", "#c62828", "#1565c0"


class ObjectiveEditor(QWidget):
    """SLO (statistic ≤ limit) and the cost model, edited in one row."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.statistic = QComboBox()
        for key in OBJECTIVES:
            self.statistic.addItem(OBJECTIVE_NAMES[key], key)
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.001, 1e6)
        self.limit.setDecimals(3)
        self.limit.setValue(2.0)
        self.limit.setSuffix(" s")
        self.price = QDoubleSpinBox()
        self.price.setRange(0.0, 1e6)
        self.price.setDecimals(3)
        self.price.setValue(1.0)
        self.price.setToolTip("The cost model: money per hour of one live worker")
        self.per_start = QDoubleSpinBox()
        self.per_start.setRange(0.0, 1e6)
        self.per_start.setDecimals(3)
        self.per_start.setToolTip("The cost model: money per worker the autoscaler starts")
        for text, w in (("SLO", self.statistic), ("≤", self.limit), ("cost per worker-h",
                                                                     self.price),
                        ("per start", self.per_start)):
            lay.addWidget(QLabel(text))
            lay.addWidget(w)
        lay.addStretch(1)
        self.statistic.currentIndexChanged.connect(lambda _: self.changed.emit())
        for box in (self.limit, self.price, self.per_start):
            box.valueChanged.connect(lambda _: self.changed.emit())

    @property
    def objective(self) -> Objective:
        return Objective(str(self.statistic.currentData()), self.limit.value())

    @property
    def cost(self) -> CostModel:
        return CostModel(self.price.value(), self.per_start.value())

    def set_values(self, objective: Objective, cost: CostModel) -> None:
        self.blockSignals(True)
        self.statistic.setCurrentIndex(max(0, self.statistic.findData(objective.metric)))
        self.limit.setValue(objective.limit)
        self.price.setValue(cost.worker_hour)
        self.per_start.setValue(cost.per_start)
        self.blockSignals(False)


class ComparePane(QWidget):
    """Pinned runs and the current one as columns; the first pinned run is the baseline."""

    visibility_changed = Signal(int, bool)  # pin index, shown
    rename_requested = Signal(int, str)
    remove_requested = Signal(int)
    save_requested = Signal(int)
    pin_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.objective_editor = ObjectiveEditor()
        self.pin_button = QPushButton("Pin this run")
        self.pin_button.clicked.connect(self.pin_requested)
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 30)
        self.seeds.setValue(1)
        self.seeds.setPrefix("seeds ")
        self.seeds.setToolTip("Replications of a pinned run (seeds seed, seed + 1, …), run in "
                              "the background: with two or more, each figure gets its 95 % "
                              "interval and a difference is coloured when the intervals do "
                              "not overlap")

        self.pin_list = QListWidget()
        self.pin_list.setToolTip("Pinned runs: untick to hide, double-click to rename")
        self.pin_list.itemChanged.connect(self._item_changed)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self._on_selected(self.remove_requested))
        save = QPushButton("Save scenario…")
        save.setToolTip("Save the scenario that made the selected pinned run")
        save.clicked.connect(lambda: self._on_selected(self.save_requested))
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        pin_row = QHBoxLayout()
        pin_row.addWidget(self.pin_button)
        pin_row.addWidget(self.seeds)
        left_lay.addLayout(pin_row)
        left_lay.addWidget(self.pin_list, 1)
        export = QPushButton("CSV…")
        export.setToolTip("Export the table as CSV")
        export.clicked.connect(self._export_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(remove)
        buttons.addWidget(save)
        buttons.addWidget(export)
        left_lay.addLayout(buttons)

        self.table = QTableWidget(len(COMPARED), 1)
        self.table.setVerticalHeaderLabels([c.label for c in COMPARED])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.table)
        split.setStretchFactor(1, 1)
        split.setSizes([170, 600])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.objective_editor)
        lay.addWidget(split, 1)
        self.pin_list.setMinimumWidth(120)
        self.table.setMinimumWidth(200)
        self._filling = False

    def _on_selected(self, signal: Any) -> None:
        row = self.pin_list.currentRow()
        if row >= 0:
            signal.emit(row)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        row = self.pin_list.row(item)
        self.visibility_changed.emit(row, item.checkState() == Qt.CheckState.Checked)
        name = item.text().removeprefix("● ").strip()
        self.rename_requested.emit(row, name)

    def show_pins(self, pins: Sequence[tuple[str, str, bool, str]]) -> None:
        """(name, color, shown, note) per pinned run."""
        self._filling = True
        try:
            row = self.pin_list.currentRow()
            self.pin_list.clear()
            for name, color, shown, note in pins:
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable
                              | Qt.ItemFlag.ItemIsEditable)
                item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
                item.setForeground(QColor(color))
                item.setToolTip(note)
                self.pin_list.addItem(item)
            if 0 <= row < self.pin_list.count():
                self.pin_list.setCurrentRow(row)
        finally:
            self._filling = False

    def show_runs(self, columns: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> None:
        """Each column: a name and its runs' figures (one dict per seed); the first column
        is the baseline."""
        t = self.table
        t.setColumnCount(len(columns))
        t.setHorizontalHeaderLabels([name for name, _ in columns])
        ests = [estimates(runs) for _, runs in columns]
        for r, c in enumerate(COMPARED):
            for col, e in enumerate(ests):
                text = format_estimate(e[c.key], c)
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col > 0:
                    d = difference(ests[0][c.key], e[c.key], c.lower_is_better)
                    diff = format_difference(d, c)
                    if diff and text != "–":
                        item.setText(f"{text}  ({diff})")
                    if d.real:
                        color = REAL if d.better is None else (BETTER if d.better else WORSE)
                        item.setForeground(readable(color, is_dark(self.palette())))
                        f = item.font()
                        f.setBold(True)
                        item.setFont(f)
                        item.setToolTip("The 95 % intervals do not overlap: a real difference")
                    elif math.isfinite(d.delta):
                        item.setToolTip("Within the noise: the intervals overlap, or a run has "
                                        "only one seed")
                t.setItem(r, col, item)
        t.resizeColumnsToContents()

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison", str(
            Path.home() / "compare.csv"), "CSV files (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                QMessageBox.warning(self, "Cannot export the comparison",
                                    f"Cannot write {path}: {exc.strerror or exc}")

    def export_csv(self, path: str | Path) -> None:
        """The table as shown, one row per figure."""
        t = self.table
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["figure"] + [_text(t.horizontalHeaderItem(c))
                                     for c in range(t.columnCount())])
            for r in range(t.rowCount()):
                w.writerow([_text(t.verticalHeaderItem(r))]
                           + [_text(t.item(r, c)) for c in range(t.columnCount())])


def _text(item: QTableWidgetItem | None) -> str:
    return "" if item is None else item.text()
