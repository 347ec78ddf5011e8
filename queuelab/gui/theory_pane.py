"""The Theory tab: Erlang C's M/M/c prediction (M/M/c/K's for a bounded queue) beside what
the run measured since its last change, Little's law over the same window, and below them
the formulas beyond Erlang C (`core.theory_table`).

The measured column is the current segment (`core.segments`): since the last knob change,
its warm-up skipped, and it says so, so a prediction for the knobs now is never compared
with a run that mixed two loads.

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
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.reference import servers_of
from queuelab.core.segments import (
    Segment,
    SegmentTheory,
    Window,
    measure,
    segment_theory,
    segments,
    steady,
)
from queuelab.core.theory_table import TheoryLine, theory_lines

if TYPE_CHECKING:
    from queuelab.core.engine import Engine
    from queuelab.core.scenario import Scenario
    from queuelab.gui.history import FrameHistory

ROWS = (
    ("rho", "Utilization ρ"),
    ("p_wait", "P(wait) — share of tasks that queue"),
    ("lq", "Lq — mean tasks waiting (time average)"),
    ("lq_little", "Lq by Little's law, λ × Wq"),
    ("wq", "Wq — mean wait in queue"),
    ("w", "W — mean time in system"),
    ("l", "L — mean tasks in system (time average)"),
    ("p_block", "P(rejected) — share of arrivals turned away"),
)
MEASURED = "Measured (this segment)"


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞ (unstable)"
    return f"{v:,.4g}{unit}"


def _pct(v: float) -> str:
    return _fmt(v * 100, " %") if math.isfinite(v) else _fmt(v)


class TheoryPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.segment = QLabel()  # which window the measured column covers, and why
        self.segment.setWordWrap(True)
        self.segment.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Theory", MEASURED])
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
        self.little = QLabel()  # the live Little's-law readout over the same window
        self.little.setWordWrap(True)
        self.little.setTextFormat(Qt.TextFormat.RichText)
        # the table as tall as its rows, the whole pane scrolled as one: at 1024×700 the tab
        # strip is short, and a table scrolling inside a scrolling pane loses its place
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.beyond = QLabel()  # the formulas beyond Erlang C
        self.beyond.setWordWrap(True)
        self.beyond.setTextFormat(Qt.TextFormat.RichText)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(6, 6, 6, 6)
        for part in (self.headline, self.segment, self.table, self.little, self.beyond):
            lay.addWidget(part)
        lay.addStretch(1)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroller)
        self._beyond_for: Scenario | None = None
        self.measured: Window | None = None  # what the measured column shows

    def refresh(self, engine: Engine | None, history: FrameHistory) -> None:
        if engine is None:
            return
        scenario = engine.scenario
        shared = engine.shared
        # the current segment: since the last change, its warm-up skipped; its knobs are
        # the scenario's now (`core.segments`)
        current = segments(engine.changes, engine.now, scenario)[-1]
        theory = segment_theory(scenario)
        if shared:
            self.headline.setText(
                f"Other processes serve this queue too ({escape(shared)}): a formula for this "
                f"run's own workers would describe another queue, so none is shown.")
            theory = SegmentTheory(None, "shared queue")
        else:
            self.headline.setText(_headline(theory, scenario))
        self.table.setHorizontalHeaderLabels([theory.model or "Theory", MEASURED])
        self._show_prediction(theory)
        self.measured = measure(history.reaching(current.measured_from), current.measured_from)
        self._show_measured(self.measured, current, history)
        self._show_beyond(scenario, shared)

    def _show_beyond(self, scenario: Scenario, shared: str | None) -> None:
        if scenario is self._beyond_for:
            return  # (the lines change only with the scenario)
        self._beyond_for = scenario
        if shared:
            self.beyond.setText("")
            return
        self.beyond.setText("<b>Beyond Erlang C</b> (for this segment's knobs)<br>" + "<br>".join(
            _line_html(line) for line in theory_lines(steady(scenario))))

    def _show_prediction(self, th: SegmentTheory) -> None:
        values = [th.rho, th.p_wait, th.lq, th.lq, th.wq, th.w, th.l, th.p_block]
        if th.model is None:
            values = [math.nan] * len(ROWS)
        units = ("", "", "", "", " s", " s", "", "")
        for r, (v, u) in enumerate(zip(values, units, strict=True)):
            text = _pct(v) if r in (0, 1, 7) else _fmt(v, u)
            self._cells[r][0].setText(text)

    def _show_measured(self, win: Window | None, seg: Segment, history: FrameHistory) -> None:
        if win is None:
            for row in self._cells:
                row[1].setText("—")
            left = seg.measured_from - seg.start
            self.segment.setText(
                f"<i>Nothing measured yet: {escape(seg.describe(0.0))}; the first "
                f"{left:,.0f} s are skipped.</i>")
            self.little.setText("")
            return
        self.segment.setText(f"<i>{escape(seg.describe(win.duration))}.</i>")
        lq = win.lq
        if math.isnan(lq):  # an engine that keeps no time in system: the frames' snapshots
            t = history.last("t")
            inside = (t > win.start) & (t <= win.end)
            lq = float(np.mean(history.last("depth")[inside])) if inside.any() else math.nan
        ci = win.wq_ci95
        wq_text = _fmt(win.wq, " s") + (f" ± {ci:.2g}" if math.isfinite(ci) else "")
        texts = [_pct(win.utilization), _pct(win.p_wait), _fmt(lq),
                 _fmt(win.admitted_rate * win.wq), wq_text, _fmt(win.w, " s"), _fmt(win.l),
                 _pct(win.p_block)]
        for r, text in enumerate(texts):
            self._cells[r][1].setText(text)
        self.little.setText(_little_html(win))


def _headline(th: SegmentTheory, scenario: Scenario) -> str:
    s = steady(scenario)
    if th.model is None:
        return (f"Erlang C and M/M/c/K predict only M/M/c queues, bounded or not; this "
                f"segment's knobs are not one: {escape(th.why_not or '')}.")
    lam, mu = s.arrivals.rate, 1.0 / s.service.mean
    c = servers_of(s) or 0
    if not th.stable:
        capacity = c * mu
        growth = lam - capacity
        return (f"M/M/c with λ = {lam:g}/s, μ = {mu:.4g}/s per worker, c = {c}: "
                f"<b style='color:#c62828'>unstable</b>. The workers serve at most cμ = "
                f"{capacity:.4g}/s, so the queue grows by λ − cμ = {growth:.3g} tasks per "
                f"second ({growth * 3600:,.0f} an hour) and never settles: there is no "
                f"steady-state wait to predict. The queue plot draws that growth instead.")
    if s.queue.max_length:
        return (f"M/M/c/K with λ = {lam:g}/s offered, μ = {mu:.4g}/s per worker, c = {c} and "
                f"room for {s.queue.max_length} waiting (K = {c + s.queue.max_length}): "
                f"{th.p_block:.2%} of arrivals are turned away, so λ admitted = "
                f"{th.admitted_rate:.4g}/s is the rate Little's law takes.")
    a = lam / mu
    return (f"M/M/c with λ = {lam:g}/s, μ = {mu:.4g}/s per worker, c = {c}: stable (ρ < 1). "
            f"Offered load a = λ/μ = {a:.3g}: on average {a:.3g} of the {c} workers are "
            f"busy.")


def _little_html(win: Window) -> str:
    """L against λW over the window, and how far apart they are."""
    if math.isnan(win.l) or math.isnan(win.w):
        return ("<b>Little's law</b>: this engine does not keep the time in system, so L "
                "and W are not measured.")
    gap = win.little_gap
    return (f"<b>Little's law</b> over this window: L = {win.l:,.4g} tasks in system (time "
            f"average) against λW = {win.admitted_rate:,.4g}/s × {win.w:,.4g} s = "
            f"{win.admitted_rate * win.w:,.4g}: {gap:.2%} apart (the tasks inside at the "
            f"window's edges; it shrinks as the window grows).")


def _line_html(line: TheoryLine) -> str:
    name = escape(line.name) + (" <i>(an approximation)</i>" if line.approximate else "")
    if line.why_not is not None:
        return f"<span style='color:#757575'>{name}: not shown, {escape(line.why_not)}</span>"
    figures = ", ".join(f"{escape(what)} {_fmt(v, f' {u}' if u else '')}"
                        for what, v, u in line.figures)
    return f"{name}: {figures}"
