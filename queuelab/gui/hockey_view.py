"""The hockey stick in the window: mean wait against utilization for the current pool.

A dialog (Run ▸ Wait against utilization…) rather than a tab: the tabs share the window's
lower strip, which at 1024×700 is under 200 pixels high, too flat for a curve whose whole
point is its sharp rise; a dialog gets its own height and leaves the tab order alone.

It draws Erlang C's wait for one pooled M/M/c queue and for c separate M/M/1 queues
(`core.hockey`), the current operating point (the run's measured mean wait with its batch-
means interval, or the theory's value before a run), and on request a quick sweep of the
arrival rate (`tuning.hockey`) off the GUI thread, each point with its 95 % interval over
the seeds; with the separate queues shown, the same sweep of one of them (λ/c, one worker:
by symmetry each queue's wait) gives their measured points, drawn as squares. A bounded
queue (`max_length`) gets M/M/c/K's curves (`core.hockey`). The y axis stops at 9 mean
services so the rise stays readable; the chart says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from queuelab.core.hockey import HockeyStick, for_scenario
from queuelab.gui.background import WORKER_NICE, ResultsThread
from queuelab.gui.engines import MONITOR
from queuelab.gui.plot_style import PlotColors
from queuelab.tuning import LocalPool, iter_points, run_sweep
from queuelab.tuning.estimate import LONG, describe, runs_of, seconds_per_run, sweep_seconds
from queuelab.tuning.hockey import (
    REPLICATIONS,
    MeasuredPoint,
    hockey_sweep,
    measured_points,
    separate_sweep,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from queuelab.core.scenario import Scenario
    from queuelab.gui.main_window import MainWindow
    from queuelab.tuning.spec import Sweep
    from queuelab.tuning.stats import PointStats

POOLED, SEPARATE, MEASURED, NOW = "#1565c0", "#e65100", "#2e7d32", "#7b1fa2"
POOLED_KIND, SEPARATE_KIND = "pooled", "separate"  # which sweep a point came from
REFRESH_MS = 1000  # the operating point follows the run at this pace while shown
CAP_ROOM = 1.08  # headroom above the cap for the markers drawn on it


def _fmt(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.3g}"


class HockeyDialog(QDialog):
    """Wait against utilization; `window` supplies the scenario and the current run."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("hockey_dialog")
        self.setWindowTitle("Wait against utilization (the hockey stick)")
        self.main = window
        self.stick: HockeyStick | None = None
        self.scenario: Scenario | None = None
        self.sweep: Sweep | None = None
        self.measured: list[MeasuredPoint] = []
        # one of the c separate queues, swept beside the pooled one (`separate_sweep`)
        self.separate_sweep: Sweep | None = None
        self.measured_separate: list[MeasuredPoint] = []
        self.now_point: tuple[float, float, float, bool] | None = None  # ρ, Wq, ±, measured
        self.sweep_thread: ResultsThread | None = None
        self._why_none = ""

        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.separate_box = QCheckBox("c separate queues")
        self.separate_box.setChecked(True)
        self.separate_box.setToolTip("The same workers, each with its own queue taking λ/c "
                                     "(c M/M/1 queues): same utilization, longer waits")
        self.separate_box.toggled.connect(lambda _: self.redraw())
        self.seeds = QSpinBox()
        self.seeds.setRange(2, 50)
        self.seeds.setValue(REPLICATIONS)
        self.seeds.setPrefix("seeds ")
        self.seeds.setToolTip("Runs per utilization, the same seeds at each (common random "
                              "numbers): their spread gives each point's 95 % interval")
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("A quick sweep of the arrival rate over ρ = 0.3 … 0.9, "
                                       "each run as long as the scenario's")
        self.measure_button.clicked.connect(self._measure_clicked)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("no sweep yet")
        self.progress.setValue(0)

        self.chart = pg.PlotWidget()
        self.chart.setObjectName("hockey_chart")
        self.chart.setMinimumHeight(220)
        plot = self.chart.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "utilization ρ = λ / (c·μ)")
        plot.setLabel("left", "mean wait in queue Wq (s)")
        self.pooled_line = pg.PlotCurveItem()
        self.separate_line = pg.PlotCurveItem()
        self.bars = pg.ErrorBarItem(beam=0.012)
        self.points = pg.ScatterPlotItem(size=9)
        self.separate_bars = pg.ErrorBarItem(beam=0.012)
        self.separate_points = pg.ScatterPlotItem(size=9, symbol="s")  # (the legend's too)
        self.now_bar = pg.ErrorBarItem(beam=0.02)
        self.now_marker = pg.ScatterPlotItem(size=18, symbol="star")
        self.now_line = pg.InfiniteLine(angle=90, movable=False)
        self.now_text = ""  # the operating point's legend entry: where it is, and measured how
        self.cap_label = pg.TextItem(anchor=(0, 0))
        plot.addItem(self.now_line, ignoreBounds=True)
        for item in (self.pooled_line, self.separate_line, self.bars, self.points,
                     self.separate_bars, self.separate_points, self.now_bar, self.now_marker):
            plot.addItem(item)
        plot.addItem(self.cap_label, ignoreBounds=True)
        self.legend = plot.addLegend(offset=(10, 30))

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        row = QHBoxLayout()
        row.addWidget(self.separate_box)
        row.addStretch(1)
        row.addWidget(self.seeds)
        row.addWidget(self.measure_button)
        row.addWidget(self.progress, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.headline)
        lay.addLayout(row)
        lay.addWidget(self.chart, 1)
        lay.addWidget(self.note)
        self.resize(860, 560)  # fits inside a 1024×700 screen with the window's title bar

        self.colors = PlotColors.from_palette(self.palette())
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        self.restyle()
        self.refresh()

    # -- what is drawn ----------------------------------------------------------------------

    def refresh(self) -> None:
        """Follow the window: new curves when the scenario changed, the operating point always."""
        if not self.isVisible() and self.stick is not None:
            return
        engine = self.main.runner.engine
        scenario = engine.scenario if engine is not None else self.main.scenario
        if scenario != self.scenario:
            self.scenario = scenario
            found = for_scenario(scenario)
            self.stick = None if isinstance(found, str) else found
            self._why_none = found if isinstance(found, str) else ""
            if self.sweep is not None and not self.running and _rate_aside(
                    self.sweep.scenario) != _rate_aside(scenario):
                self.measured = []  # a sweep of another pool: its points no longer apply
                self.measured_separate = []
            self._headline()
        self.now_point = self._operating_point()
        self.redraw()

    def _headline(self) -> None:
        h = self.stick
        if h is None:
            self.headline.setText(f"No hockey stick for this scenario: {self._why_none}.")
            self.measure_button.setEnabled(False)
            self.measure_button.setToolTip(self._why_none)
            return
        self.measure_button.setEnabled(True)
        self.measure_button.setToolTip("A quick sweep of the arrival rate over ρ = 0.3 … 0.9, "
                                       "each run as long as the scenario's")
        text = (f"c = {h.servers} workers, μ = {h.service_rate:.4g}/s each (mean service "
                f"{1 / h.service_rate:.3g} s); now at ρ = {h.current_rho:.3g}.")
        if h.approximation:
            text += (f" The curves are the M/M/c approximation of this scenario (same λ, mean "
                     f"service and c): {h.approximation}.")
        self.headline.setText(text)

    def _operating_point(self) -> tuple[float, float, float, bool] | None:
        """The run's measured mean wait at the current ρ, or the theory's before a run."""
        h = self.stick
        if h is None:
            return None
        engine = self.main.runner.engine
        if engine is not None and engine.kind != MONITOR:
            s = engine.summary()
            if s.waits > 0:
                return (h.current_rho, s.mean_wait, s.mean_wait_ci95, True)
        wait = h.current_wait
        return (h.current_rho, wait, math.nan, False)

    def redraw(self) -> None:
        h, c = self.stick, self.colors
        self.legend.clear()
        if h is None:
            for curve in (self.pooled_line, self.separate_line):
                curve.setData([], [])
            self.points.setData([])
            _clear(self.bars)
            self.separate_points.setData([])
            _clear(self.separate_bars)
            self.now_marker.setData([])
            _clear(self.now_bar)
            self.now_line.hide()
            self.now_text = ""
            self.cap_label.setText("")
            self.note.setText("")
            return
        cap = h.cap
        rho = np.asarray(h.rho)
        pooled_pen = pg.mkPen(c.series(POOLED), width=2.5)
        # the true values: the view clips a curve where it leaves the top, so none lies flat
        self.pooled_line.setData(rho, np.asarray(h.pooled), pen=pooled_pen)
        self.legend.addItem(self.pooled_line, f"one shared queue ({h.pooled_name})")
        show_separate = self.separate_box.isChecked() and h.servers > 1
        if show_separate:
            self.separate_line.setData(rho, np.asarray(h.separate),
                                       pen=pg.mkPen(c.series(SEPARATE), width=2,
                                                    style=Qt.PenStyle.DashLine))
            self.legend.addItem(self.separate_line,
                                f"{h.servers} separate queues ({h.separate_name} each)")
        else:
            self.separate_line.setData([], [])
        self._draw_measured(cap, self.measured, self.points, self.bars, MEASURED,
                            "measured (sweep, 95 % interval)")
        self._draw_measured(cap, self.measured_separate if show_separate else [],
                            self.separate_points, self.separate_bars, SEPARATE,
                            "one separate queue, measured")
        self._draw_now(cap)
        self.cap_label.setColor(c.text)
        self.cap_label.setText(f"y axis capped at {cap:.3g} s (9 mean services): the waits "
                               f"go on to ∞ as ρ → 1")
        self.cap_label.setPos(0.01, cap * CAP_ROOM)
        plot = self.chart.getPlotItem()
        plot.setXRange(0.0, 1.0, padding=0.01)
        plot.setYRange(0.0, cap * CAP_ROOM, padding=0.0)
        plot.vb.setLimits(xMin=0.0, xMax=1.05, yMin=0.0)
        self._write_note()

    def _draw_measured(self, cap: float, measured: list[MeasuredPoint],
                       points: pg.ScatterPlotItem, bars: pg.ErrorBarItem, hue: str,
                       name: str) -> None:
        ok = [p for p in measured if p.status == "ok" and p.mean_wait.n > 0]
        if not ok:
            points.setData([])
            _clear(bars)
            return
        x = np.array([p.rho for p in ok])
        y = np.array([p.mean_wait.mean for p in ok])
        hw = np.array([p.mean_wait.half_width if p.mean_wait.n > 1 else 0.0 for p in ok])
        shown = np.minimum(y, cap * CAP_ROOM)
        above = y > cap * CAP_ROOM
        color = self.colors.series(hue)
        points.setData(x=x, y=shown, brush=pg.mkBrush(color), pen=pg.mkPen(color),
                       symbol=["t1" if a else ("o" if hue == MEASURED else "s") for a in above])
        low = np.minimum(hw, shown)
        high = np.where(above, 0.0, np.minimum(hw, cap * CAP_ROOM - shown))
        bars.setData(x=x, y=shown, top=high, bottom=low, pen=pg.mkPen(color, width=1.5))
        self.legend.addItem(points, name)

    def _draw_now(self, cap: float) -> None:
        point = self.now_point
        color = self.colors.series(NOW)
        if point is None:
            self.now_marker.setData([])
            self.now_line.hide()
            return
        rho, wait, hw, measured = point
        x = min(rho, 1.0)
        y = min(wait, cap * CAP_ROOM) if math.isfinite(wait) else cap * CAP_ROOM
        brush = pg.mkBrush(color) if measured else pg.mkBrush(self.colors.marker_fill)
        self.now_marker.setData(x=[x], y=[y], brush=brush, pen=pg.mkPen(color, width=2))
        if measured and math.isfinite(hw):
            self.now_bar.setData(x=np.array([x]), y=np.array([y]), top=np.array([hw]),
                                 bottom=np.array([min(hw, y)]), pen=pg.mkPen(color, width=2))
        else:
            _clear(self.now_bar)
        self.now_line.setPen(pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine))
        self.now_line.setPos(x)
        self.now_line.show()
        what = "this run" if measured else "theory, no run yet"
        self.now_text = f"now ({what}): ρ = {rho:.2f}, Wq = {_fmt(wait)} s"
        if rho >= 1.0:
            self.now_text = f"now: ρ = {rho:.2f} ≥ 1, unstable: the wait grows without bound"
        self.legend.addItem(self.now_marker, self.now_text)

    def _write_note(self) -> None:
        h = self.stick
        theory = (f"M/M/c/K (the queue holds at most {h.max_length} waiting; the wait is the "
                  f"admitted tasks')" if h is not None and h.max_length else "Erlang C")
        parts = [f"Theory: {theory}. Same utilization, different waits: pooling the queue "
                 "lets an idle worker take any waiting task."]
        ok = [p for p in self.measured if p.status == "ok"]
        if ok and self.sweep is not None:
            parts.append(f"{len(ok)} measured points, {self.sweep.replications} seeds each "
                         "(the same at every point).")
        if [p for p in self.measured_separate if p.status == "ok"]:
            parts.append("The squares: one of the separate queues run alone (λ/c, one "
                         "worker): by symmetry, each queue's wait.")
        bad = [p for p in self.measured + self.measured_separate if p.status != "ok"]
        if bad:
            parts.append(f"Not measured at ρ = {bad[0].rho:.2f}: {bad[0].reason}.")
        self.note.setText(" ".join(parts))

    # -- the quick sweep ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.sweep_thread is not None

    def _measure_clicked(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.start()

    def start(self, sweep: Sweep | None = None, separate: Sweep | None = None) -> bool:
        """Run the quick sweep (default: the window's scenario over `SWEEP_RHOS`, and one of
        the separate queues over the same utilizations when they are shown)."""
        if self.running or self.scenario is None or self.stick is None:
            return False
        both = sweep is None and self.separate_box.isChecked() and self.stick.servers > 1
        if sweep is None:
            sweep = hockey_sweep(self.scenario, replications=self.seeds.value())
        slots = os.cpu_count() or 1
        seconds = sweep_seconds(sweep, seconds_per_run(sweep.scenario), slots)
        if both:  # one worker at λ/c: fewer events a run, counted as many to be safe
            seconds *= 2
        if seconds > LONG:  # the runs are as long as the scenario's: say so, as Tune does
            chosen_sweep = self.main.tune.confirm_long(sweep, seconds)
            if chosen_sweep is None:
                return False
            seconds *= runs_of(chosen_sweep) / runs_of(sweep)
            sweep = chosen_sweep
        if both:
            capacity = self.stick.servers * self.stick.service_rate
            rhos = tuple(float(v) / capacity for v in sweep.axes[0].values)
            separate = separate_sweep(self.scenario, rhos, sweep.replications)
        self.sweep, self.separate_sweep = sweep, separate
        self.measured, self.measured_separate = [], []
        points_in = runs_of(sweep) // sweep.replications
        if separate is not None:
            points_in += runs_of(separate) // separate.replications
        self.progress.setRange(0, points_in)
        self.progress.setValue(0)
        self.progress.setFormat(f"%v of %m points × {sweep.replications} seeds (about "
                                f"{describe(seconds)})")
        chosen = [(POOLED_KIND, sweep)] + ([(SEPARATE_KIND, separate)] if separate else [])

        def points() -> Iterator[tuple[str, PointStats]]:
            """Each point once its last seed is in, the pooled sweep's first; closing it
            shuts the pool down."""
            with LocalPool(nice=WORKER_NICE) as pool:
                for kind, one in chosen:
                    records = run_sweep(one, pool)
                    try:
                        for stats in iter_points(one, records):
                            yield kind, stats
                    finally:  # a cancel closes this generator: close the sweep's too, at once
                        close = getattr(records, "close", None)
                        if close is not None:
                            close()

        self.sweep_thread = ResultsThread(points, self)
        self.sweep_thread.result.connect(self._point)
        self.sweep_thread.done.connect(self._done)
        self.sweep_thread.start()
        self.measure_button.setText("Cancel")
        self.redraw()
        return True

    def cancel(self) -> None:
        if self.sweep_thread is not None:
            self.sweep_thread.stop()
            self.measure_button.setText("Cancelling…")
            self.measure_button.setEnabled(False)

    def stop(self) -> None:
        """Stop the sweep and wait for it (the dialog or the window closes)."""
        thread = self.sweep_thread
        if thread is not None:
            thread.stop()
            thread.wait(60000)

    def _point(self, item: tuple[str, PointStats]) -> None:
        kind, stats = item
        thread = self.sweep_thread
        if self.sweep is None or (thread is not None and thread.stopping):
            return  # cancelled: what was already on its way is not drawn
        if kind == SEPARATE_KIND and self.separate_sweep is not None:
            self.measured_separate.extend(measured_points(self.separate_sweep, [stats]))
        else:
            self.measured.extend(measured_points(self.sweep, [stats]))
        self.progress.setValue(len(self.measured) + len(self.measured_separate))
        self.redraw()

    def _done(self, error: str) -> None:
        thread, self.sweep_thread = self.sweep_thread, None
        if thread is not None:
            thread.wait(10000)  # it has said all it had to: let it return before it goes
        self.measure_button.setText("Measure")
        self.measure_button.setEnabled(self.stick is not None)
        if error:
            self.main.show_error("The hockey-stick sweep failed", error)
        finished = self.progress.value() == self.progress.maximum()
        self.progress.setFormat("%v of %m points" + ("" if finished else " (cancelled)"))
        self.redraw()

    # -- style ----------------------------------------------------------------------------------

    def restyle(self) -> None:
        c = PlotColors.from_palette(self.palette())
        self.colors = c
        self.chart.setBackground(c.background)
        plot = self.chart.getPlotItem()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(c.axis)
            axis.setTextPen(c.text)
        self.legend.setBrush(c.legend_fill)
        self.legend.setPen(c.legend_border)
        self.legend.setLabelTextColor(c.text)
        self.redraw()

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.restyle()

    def closeEvent(self, event: Any) -> None:
        self.stop()
        super().closeEvent(event)


def _clear(bars: pg.ErrorBarItem) -> None:
    """No bars. Every width is reset: ErrorBarItem keeps those left out, and old widths
    drawn over other points crash Qt (only vertical bars are ever drawn here)."""
    e = np.empty(0)
    bars.setData(x=e, y=e, top=None, bottom=None, left=None, right=None)


def _rate_aside(scenario: Scenario) -> Scenario:
    """The scenario but its arrival rate and seed: what a sweep's points stay valid for."""
    return replace(scenario, arrivals=replace(scenario.arrivals, rate=1.0),
                   run=replace(scenario.run, seed=0))


def show_hockey(window: MainWindow) -> HockeyDialog:
    """Open (or raise) the window's hockey-stick dialog."""
    found = window.findChild(HockeyDialog, "hockey_dialog")
    dialog = found if isinstance(found, HockeyDialog) else HockeyDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.refresh()
    return dialog


def stop_hockey(window: MainWindow) -> None:
    """Stop the dialog's sweep, if any (the window closes)."""
    found = window.findChild(HockeyDialog, "hockey_dialog")
    if isinstance(found, HockeyDialog):
        found.stop()
