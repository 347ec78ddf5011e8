"""The Theory tab: Erlang C's M/M/c prediction beside what the run measured, and below it
the formulas beyond Erlang C (`core.theory_table`).

Seeing the simulator land on the formula is what makes a person trust the other, non-M/M/c
runs; and when the scenario is not M/M/c, saying which assumption it breaks is more useful
than an empty table. Each further formula is shown where its assumptions hold, and otherwise
with the one the scenario breaks.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.reference import why_not_mmc
from queuelab.core.theory_table import TheoryLine, theory_lines

if TYPE_CHECKING:
    from queuelab.core.engine import Engine
    from queuelab.core.scenario import Scenario
    from queuelab.core.theory import MMcPrediction
    from queuelab.gui.history import FrameHistory

ROWS = (
    ("rho", "Utilization ρ"),
    ("p_wait", "P(wait) — share of tasks that queue"),
    ("lq", "Lq — mean tasks waiting (time average of frames)"),
    ("lq_little", "Lq by Little's law, λ × Wq"),
    ("wq", "Wq — mean wait in queue"),
    ("w", "W — mean time in system"),
    ("l", "L — mean tasks in system"),
)


def _fmt(v: float, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞ (unstable)"
    return f"{v:,.4g}{unit}"


class TheoryPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Erlang C (M/M/c)", "Measured (after warm-up)"])
        self.table.setVerticalHeaderLabels([label for _, label in ROWS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._cells: list[list[QTableWidgetItem]] = []  # [row][0 theory, 1 measured]
        for r in range(len(ROWS)):
            self._cells.append([])
            for c in range(2):
                item = QTableWidgetItem("—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
                self._cells[r].append(item)
        self._cells[1][1].setToolTip("Shown when the engine's summary reports p_wait")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.headline)
        lay.addWidget(self.table, 1)
        self.beyond = QLabel()  # the formulas beyond Erlang C
        self.beyond.setWordWrap(True)
        self.beyond.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.beyond)
        self._beyond_for: Scenario | None = None

    def refresh(self, engine: Engine | None, history: FrameHistory) -> None:
        if engine is None:
            return
        scenario = engine.scenario
        shared = engine.shared
        pred = engine.reference()
        if shared:
            self.headline.setText(
                f"Other processes serve this queue too ({escape(shared)}): Erlang C for this "
                f"run's own workers would describe another queue, so it is not shown.")
        elif pred is None:
            self.headline.setText(
                f"Erlang C predicts only M/M/c queues; this scenario is not one: "
                f"{why_not_mmc(scenario)}.")
        elif not pred.stable:
            capacity = pred.servers * pred.service_rate
            growth = pred.arrival_rate - capacity
            self.headline.setText(
                f"M/M/c with λ = {pred.arrival_rate:g}/s, μ = {pred.service_rate:.4g}/s per "
                f"worker, c = {pred.servers}: <b style='color:#c62828'>unstable</b>. The "
                f"workers serve at most cμ = {capacity:.4g}/s, so the queue grows by λ − cμ "
                f"= {growth:.3g} tasks per second ({growth * 3600:,.0f} an hour) and never "
                f"settles: there is no steady-state wait to predict. The queue plot draws "
                f"that growth instead.")
        else:
            self.headline.setText(
                f"M/M/c with λ = {pred.arrival_rate:g}/s, μ = {pred.service_rate:.4g}/s per "
                f"worker, c = {pred.servers}: stable (ρ < 1). Offered load a = λ/μ = "
                f"{pred.offered_load:.3g}: on average {pred.offered_load:.3g} of the "
                f"{pred.servers} workers are busy.")
        self._show_prediction(pred)
        self._show_measured(engine, history)
        self._show_beyond(scenario, shared)

    def _show_beyond(self, scenario: Scenario, shared: str | None) -> None:
        if scenario is self._beyond_for:
            return  # (the lines change only with the scenario)
        self._beyond_for = scenario
        if shared:
            self.beyond.setText("")
            return
        self.beyond.setText("<b>Beyond Erlang C</b><br>" + "<br>".join(
            _line_html(line) for line in theory_lines(scenario)))


    def _show_prediction(self, pred: MMcPrediction | None) -> None:
        values = [math.nan] * len(ROWS) if pred is None else [
            pred.rho, pred.p_wait, pred.lq, pred.lq, pred.wq, pred.w, pred.l]
        units = ("", "", "", "", " s", " s", "")
        for r, (v, u) in enumerate(zip(values, units, strict=True)):
            text = _fmt(v * 100, " %") if r < 2 and math.isfinite(v) else _fmt(v, u)
            self._cells[r][0].setText(text)

    def _show_measured(self, engine: Engine, history: FrameHistory) -> None:
        s = engine.summary()
        warm = engine.scenario.run.warmup
        t = history.last("t")
        after = t > warm
        if after.any():
            depth = history.last("depth")[after]
            in_system = depth + history.last("in_flight")[after]
            lq, l_ = float(np.mean(depth)), float(np.mean(in_system))
        else:
            lq = l_ = math.nan
        wq = s.mean_wait
        w = wq + s.mean_service if s.waits else math.nan
        ci = s.mean_wait_ci95
        wq_text = _fmt(wq, " s") + (f" ± {ci:.2g}" if math.isfinite(ci) else "")
        p_wait = s.extras.get("p_wait")  # an engine that measures it says so in its summary
        p_wait_text = _fmt(float(p_wait) * 100, " %") if isinstance(p_wait, float) else "—"
        rate = s.arrived / s.duration if s.duration > 0 else math.nan
        books = engine.totals()
        if books.rejected and books.created:  # Little's law needs the admitted rate
            rate *= 1.0 - books.rejected / books.created
        little = rate * wq if s.waits else math.nan
        texts = [_fmt(s.utilization * 100, " %") if s.duration > 0 else "—", p_wait_text,
                 _fmt(lq), _fmt(little), wq_text if s.waits else "—", _fmt(w, " s"),
                 _fmt(l_)]
        for r, text in enumerate(texts):
            self._cells[r][1].setText(text)


def _line_html(line: TheoryLine) -> str:
    name = escape(line.name) + (" <i>(an approximation)</i>" if line.approximate else "")
    if line.why_not is not None:
        return f"<span style='color:#757575'>{name}: not shown, {escape(line.why_not)}</span>"
    figures = ", ".join(f"{escape(what)} {_fmt(v, f' {u}' if u else '')}"
                        for what, v, u in line.figures)
    return f"{name}: {figures}"
