"""The Tune tab: run a sweep off the GUI thread and pick a policy on the cost/wait chart.

Axes come from the form ("Sweep this…" on a knob, two at most) or from a sweep file (any
number). The sweep is `tuning.run_sweep` on a process pool over every core, walked by a
`ResultsThread`; each point is drawn as its last replication arrives: cost against the
objective's wait statistic with 95 % bars, the Pareto frontier (`tuning.frontier`) as a
line, the SLO as a band, points meeting it highlighted, failed points crossed. Hover shows
a point's knobs and figures; a click loads its knobs into the form and runs it, pinned next
to the baseline. With two axes, a heat map shows the grid (colour = p95 wait or cost) with
the SLO's contour.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.engine import RunState
from queuelab.core.scenario import KNOBS
from queuelab.core.validation import ScenarioError
from queuelab.gui.background import WORKER_NICE, ResultsThread
from queuelab.gui.compare_pane import OBJECTIVE_NAMES
from queuelab.gui.plot_style import PlotColors
from queuelab.gui.sweep_dialog import SweepAxisDialog
from queuelab.tuning import LocalPool, Sweep, frontier, load_sweep, run_sweep
from queuelab.tuning.axes import Axis
from queuelab.tuning.estimate import (
    LONG,
    describe,
    fewer_points,
    fewer_seeds,
    runs_of,
    seconds_per_run,
    sweep_seconds,
)
from queuelab.tuning.results import write_points
from queuelab.tuning.runner import FIGURES
from queuelab.tuning.stats import PointStats, meets, point_stats

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from queuelab.gui.main_window import MainWindow
    from queuelab.tuning.sweep import RunRecord

MAX_FORM_AXES = 2
REDRAW_MS = 150  # points arriving together are drawn together
MEETS, MEETS_MEAN, MISSES, FAILED = "#2e7d32", "#81c784", "#9e9e9e", "#d32f2f"
FRONTIER = "#1565c0"
SLO_BAND = "#2e7d32"
HEAT_FIGURES = {"wait_p95": "p95 wait (s)", "cost": "cost"}


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _tick(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _label(path: str) -> str:
    info = KNOBS.get(path)
    return info.knob.label if info else path


class TuneView(QWidget):
    """Sweep, chart, heat map; `window` supplies the scenario, the objective and the runs."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.setObjectName("tune_view")
        self.main = window
        self.axes: list[Axis] = []
        self.sweep: Sweep | None = None
        self.points: dict[int, PointStats] = {}
        self.front: list[PointStats] = []
        self._group: list[RunRecord] = []
        self.records = 0
        self.sweep_thread: ResultsThread | None = None
        self._loading: int | None = None  # the point whose run will be pinned when it ends
        #: asked before a long sweep: the sweep to run (maybe smaller) or None to not run it
        self.confirm_long: Callable[[Sweep, float], Sweep | None] = self._ask_long

        self.axes_label = QLabel()
        self.axes_label.setWordWrap(True)
        self.clear_axes_button = QPushButton("Clear axes")
        self.clear_axes_button.clicked.connect(self.clear_axes)
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 100)
        self.seeds.setValue(3)
        self.seeds.setPrefix("seeds ")
        self.seeds.setToolTip("Replications per point, the same seeds at every point (common "
                              "random numbers); two or more give 95 % intervals")
        self.run_button = QPushButton("Run sweep")
        self.run_button.clicked.connect(self._run_clicked)
        self.file_button = QPushButton("Sweep file…")
        self.file_button.setToolTip("Run a sweep file (any number of axes; its objective and "
                                    "cost model)")
        self.file_button.clicked.connect(self._open_dialog)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumWidth(220)
        self.view_box = QComboBox()
        self.view_box.addItem("cost vs wait", "scatter")
        self.view_box.addItem("heat map", "heat")
        self.view_box.currentIndexChanged.connect(self._view_changed)
        self.heat_box = QComboBox()
        for key, name in HEAT_FIGURES.items():
            self.heat_box.addItem(f"colour: {name}", key)
        self.heat_box.currentIndexChanged.connect(lambda _: self.redraw())
        png = QPushButton("PNG…")
        png.setToolTip("Export the chart as a PNG image")
        png.clicked.connect(self._png_dialog)
        csv_button = QPushButton("CSV…")
        csv_button.setToolTip("Export the points (means and 95 % half-widths) as CSV")
        csv_button.clicked.connect(self._csv_dialog)

        row1 = QHBoxLayout()
        row1.addWidget(self.axes_label, 1)
        row1.addWidget(self.clear_axes_button)
        row1.addWidget(self.file_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.seeds)
        row2.addWidget(self.run_button)
        row2.addWidget(self.progress, 1)
        row2.addWidget(self.view_box)
        row2.addWidget(self.heat_box)
        row2.addWidget(png)
        row2.addWidget(csv_button)

        self.chart = pg.PlotWidget()
        self.chart.setObjectName("tune_chart")
        self.chart.setMinimumHeight(80)
        plot = self.chart.getPlotItem()
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.band = pg.LinearRegionItem(orientation="horizontal", movable=False)
        self.band.setZValue(-20)
        plot.addItem(self.band, ignoreBounds=True)
        self.bars = pg.ErrorBarItem(x=np.empty(0), y=np.empty(0), beam=0.0)
        plot.addItem(self.bars)
        self.frontier_line = pg.PlotCurveItem()
        plot.addItem(self.frontier_line)
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip, size=10,
                                          hoverSize=14)
        self.scatter.sigClicked.connect(self._clicked)
        self.scatter.sigHovered.connect(self._hovered)
        plot.addItem(self.scatter)
        self.failed = pg.ScatterPlotItem(hoverable=True, tip=self._tip, symbol="x", size=12)
        self.failed.sigHovered.connect(self._hovered)
        plot.addItem(self.failed)
        self.legend = plot.addLegend(offset=(-10, 10))

        self.heat = pg.PlotWidget()
        self.heat.setObjectName("tune_heat")
        self.heat.setMinimumHeight(80)
        heat_plot = self.heat.getPlotItem()
        heat_plot.hideButtons()
        self.image = pg.ImageItem()
        heat_plot.addItem(self.image)
        self.contour = pg.IsocurveItem(pen=pg.mkPen("w", width=3))
        self.contour.setParentItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False,
                                        width=12)
        self.colorbar.setImageItem(self.image, insert_in=heat_plot)
        self.cell_texts: list[pg.TextItem] = []

        self.stack = QStackedWidget()
        self.stack.addWidget(self.chart)
        self.stack.addWidget(self.heat)
        self.info = QLabel("Right-click a knob in the form ▸ Sweep this… to add an axis, then "
                           "Run sweep. Hover a point for its knobs; click it to run it, "
                           "pinned beside the baseline.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.info)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self.redraw)
        window.runner.state_changed.connect(self._run_state)
        self.colors = PlotColors.from_palette(self.palette())
        self._legend_key: tuple[bool, bool] | None = None
        self._show_axes()
        self._view_changed()
        self.restyle()

    # -- axes -----------------------------------------------------------------------------------

    def sweep_knob(self, path: str) -> SweepAxisDialog | None:
        """"Sweep this…": ask for the knob's values, add (or replace) its axis."""
        if path not in {a.path for a in self.axes} and len(self.axes) >= MAX_FORM_AXES:
            names = ", ".join(_label(a.path) for a in self.axes)
            self.main.status(f"Two axes at most from the form ({names}): clear them, or use "
                             "a sweep file for more")
            return None
        dialog = SweepAxisDialog(path, self.main.scenario.get(path), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.add_axis(dialog.axis))
        dialog.open()
        return dialog

    def add_axis(self, axis: Axis | None) -> None:
        if axis is None:
            return
        self.axes = [a for a in self.axes if a.path != axis.path] + [axis]
        self._show_axes()
        self.main.tabs.setCurrentWidget(self)

    def clear_axes(self) -> None:
        self.axes = []
        self._show_axes()

    def _show_axes(self) -> None:
        if not self.axes:
            self.axes_label.setText("<i>No axes: right-click a knob in the form ▸ Sweep "
                                    "this…</i>")
        else:
            parts = []
            for a in self.axes:
                vals = a.values
                span = f"{_value(vals[0])} … {_value(vals[-1])}" if len(vals) > 3 else \
                    ", ".join(_value(v) for v in vals)
                parts.append(f"<b>{_label(a.path)}</b> {span} ({len(vals)})")
            points = math.prod(len(a.values) for a in self.axes)
            parts.append(f"= {points:,} points")
            self.axes_label.setText(" × ".join(parts[:-1]) + " " + parts[-1])
        self.run_button.setEnabled(bool(self.axes) or self.sweep_thread is not None)
        self.view_box.model().item(1).setEnabled(len(self.axes) == 2)  # type: ignore[attr-defined]

    # -- running --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.sweep_thread is not None

    def _run_clicked(self) -> None:
        if self.sweep_thread is not None:
            self.cancel()
        else:
            self.start()

    def make_sweep(self) -> Sweep:
        cmp = self.main.comparison
        scenario = self.main.scenario
        return Sweep(scenario=scenario, axes=tuple(self.axes), name="Tune",
                     replications=self.seeds.value(), first_seed=scenario.run.seed,
                     objective=cmp.objective, cost=cmp.cost)

    def start(self, sweep: Sweep | None = None) -> bool:
        """Run `sweep` (default: the axes over the window's scenario); False if not run."""
        if self.sweep_thread is not None:
            return False
        if sweep is None:
            if not self.axes:
                self.main.status("Add an axis first: right-click a knob ▸ Sweep this…")
                return False
            sweep = self.make_sweep()
        slots = os.cpu_count() or 1
        seconds = sweep_seconds(sweep, seconds_per_run(sweep.scenario), slots)
        if seconds > LONG:
            chosen = self.confirm_long(sweep, seconds)
            if chosen is None:
                return False
            sweep = chosen
        self.sweep = sweep
        self.points.clear()
        self.front = []
        self._group = []
        self.records = 0
        self.progress.setRange(0, runs_of(sweep))
        self.progress.setValue(0)
        self.progress.setFormat(f"%v of %m runs ({describe(seconds)} on {slots} cores)")
        chosen = sweep

        def records() -> Iterator[RunRecord]:
            with LocalPool(nice=WORKER_NICE) as pool:
                yield from run_sweep(chosen, pool)

        self.sweep_thread = ResultsThread(records, self)
        self.sweep_thread.result.connect(self._record)
        self.sweep_thread.done.connect(self._done)
        self.sweep_thread.start()
        self.run_button.setText("Cancel")
        self.file_button.setEnabled(False)
        self.redraw()
        return True

    def _ask_long(self, sweep: Sweep, seconds: float) -> Sweep | None:
        """Say how long before a long sweep starts; offer fewer points or seeds."""
        slots = os.cpu_count() or 1
        while True:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Question)
            box.setWindowTitle("A long sweep")
            box.setText(f"This sweep runs {runs_of(sweep):,} simulations "
                        f"({runs_of(sweep) // sweep.replications:,} points × "
                        f"{sweep.replications} seeds): {describe(seconds)} on {slots} cores.")
            run = box.addButton("Run it", QMessageBox.ButtonRole.AcceptRole)
            points = box.addButton("Fewer points", QMessageBox.ButtonRole.ActionRole)
            seeds = box.addButton("Fewer seeds", QMessageBox.ButtonRole.ActionRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            clicked = box.clickedButton()
            if clicked is run:
                return sweep
            if clicked is points:
                smaller = fewer_points(sweep)
            elif clicked is seeds:
                smaller = fewer_seeds(sweep)
            else:
                return None
            if runs_of(smaller) == runs_of(sweep):
                return sweep
            seconds = seconds * runs_of(smaller) / runs_of(sweep)
            sweep = smaller

    def cancel(self) -> None:
        if self.sweep_thread is not None:
            self.sweep_thread.stop()
            self.run_button.setText("Cancelling…")
            self.run_button.setEnabled(False)

    def stop(self) -> None:
        """Stop the sweep and wait for it (the window closes)."""
        thread = self.sweep_thread
        if thread is not None:
            thread.stop()
            thread.wait(60000)

    def _record(self, record: RunRecord) -> None:
        sweep = self.sweep
        thread = self.sweep_thread
        if sweep is None or (thread is not None and thread.stopping):
            return  # cancelled: what was already on its way is not drawn
        self.records += 1
        self.progress.setValue(self.records)
        if self._group and self._group[0].point != record.point:
            self._close_point()
        self._group.append(record)
        if len(self._group) == sweep.replications:
            self._close_point()

    def _close_point(self) -> None:
        g, self._group = self._group, []
        p = point_stats(g[0].point, g[0].values, g, FIGURES)
        self.points[p.number] = p
        if not self._redraw_timer.isActive():
            self._redraw_timer.start(REDRAW_MS)

    def _done(self, error: str) -> None:
        if self._group:
            self._close_point()
        thread, self.sweep_thread = self.sweep_thread, None
        if thread is not None:
            thread.wait(10000)  # it has said all it had to: let it return before it goes
        self.run_button.setText("Run sweep")
        self.file_button.setEnabled(True)
        self._show_axes()
        if error:
            self.main.show_error("The sweep failed", error)
        self.redraw()
        sweep = self.sweep
        if sweep is not None:
            done = self.progress.value() == self.progress.maximum()
            self.progress.setFormat("%v of %m runs" + ("" if done else " (cancelled)"))

    # -- drawing --------------------------------------------------------------------------------

    def restyle(self) -> None:
        c = PlotColors.from_palette(self.palette())
        self.colors = c
        self.colorbar.axis.setPen(c.axis)
        self.colorbar.axis.setTextPen(c.text)
        for w in (self.chart, self.heat):
            w.setBackground(c.background)
            for name in ("left", "bottom"):
                axis = w.getPlotItem().getAxis(name)
                axis.setPen(c.axis)
                axis.setTextPen(c.text)
        self.redraw()

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.restyle()

    def _view_changed(self) -> None:
        heat = self.view_box.currentData() == "heat"
        self.stack.setCurrentIndex(1 if heat else 0)
        self.heat_box.setVisible(heat)
        self.redraw()

    def redraw(self) -> None:
        sweep = self.sweep
        c = self.colors
        plot = self.chart.getPlotItem()
        metric = sweep.objective.metric if sweep else self.main.comparison.objective.metric
        limit = sweep.objective.limit if sweep else self.main.comparison.objective.limit
        plot.setLabel("bottom", "cost (cost model)" if sweep is None or
                      sweep.cost.worker_hour != 1.0 or sweep.cost.per_start else
                      "cost, worker-hours")
        plot.setLabel("left", f"{OBJECTIVE_NAMES.get(metric, metric)} (s)")
        band = QColor(c.series(SLO_BAND))
        band.setAlphaF(0.12 if not c.dark else 0.22)
        self.band.setBrush(pg.mkBrush(band))
        for line in self.band.lines:
            line.setPen(pg.mkPen(c.series(SLO_BAND), width=1))
        self.band.setRegion((0.0, limit))
        self.band.setToolTip(f"The SLO: {OBJECTIVE_NAMES.get(metric, metric)} ≤ {limit:g} s")
        ok = [p for p in self.points.values() if p.runs > 0 and p.get("cost").n
              and p.get(metric).n]
        measured = {p.number for p in ok}
        bad = [p for p in self.points.values() if p.number not in measured or p.status != "ok"]
        self.front = frontier(ok, metric)
        if ok:
            x = np.array([p.get("cost").mean for p in ok])
            y = np.array([p.get(metric).mean for p in ok])
            # one brush and pen object per kind: pyqtgraph renders a symbol once per object
            style = {}
            for m, color in (("yes", MEETS), ("mean", MEETS_MEAN), ("no", MISSES)):
                style[m] = self._marker(color, hollow=m == "mean")
            kinds = [meets(p, metric, limit) for p in ok]
            brushes = [style[m][0] for m in kinds]
            pens = [style[m][1] for m in kinds]
            self.scatter.setData(x=x, y=y, data=[p.number for p in ok], brush=brushes, pen=pens)
            xe = np.nan_to_num(np.array([p.get("cost").half_width for p in ok]))
            ye = np.nan_to_num(np.array([p.get(metric).half_width for p in ok]))
            self.bars.setData(x=x, y=y, left=xe, right=xe, top=ye, bottom=ye,
                              pen=pg.mkPen(c.axis, width=1))
            fx = np.array([p.get("cost").mean for p in self.front])
            fy = np.array([p.get(metric).mean for p in self.front])
            self.frontier_line.setData(fx, fy, pen=pg.mkPen(c.series(FRONTIER), width=2))
        else:
            self.scatter.setData(x=[], y=[])
            e = np.empty(0)  # every array given: ErrorBarItem keeps the ones not given
            self.bars.setData(x=e, y=e, left=e, right=e, top=e, bottom=e)
            self.frontier_line.setData([], [])
        if bad:
            # a point with some runs measured sits at their means; one with none at the left
            # edge, at the top: it has no figures to place it by
            x0 = min((p.get("cost").mean for p in ok), default=0.0)
            top = max((p.get(metric).mean for p in ok), default=limit) * 1.1
            bx = [p.get("cost").mean if p.get("cost").n else x0 for p in bad]
            by = [p.get(metric).mean if p.get(metric).n else top for p in bad]
            self.failed.setData(x=bx, y=by, data=[p.number for p in bad],
                                pen=pg.mkPen(c.series(FAILED), width=2),
                                brush=pg.mkBrush(c.series(FAILED)))
        else:
            self.failed.setData(x=[], y=[])
        legend_key = (c.dark, bool(bad))
        if legend_key != self._legend_key:  # rebuilt only when what it lists changes
            self._legend_key = legend_key
            self.legend.clear()
            self.legend.setLabelTextColor(c.text)
            self.legend.addItem(self._legend_sample(MEETS), "meets the SLO (95 %)")
            self.legend.addItem(self._legend_sample(MEETS_MEAN, hollow=True),
                                "meets it on the mean only")
            self.legend.addItem(self._legend_sample(MISSES), "misses it")
            self.legend.addItem(self.frontier_line, "Pareto frontier")
            if bad:
                self.legend.addItem(self.failed, "failed")
        if self.view_box.currentData() == "heat":
            self._draw_heat(metric, limit)

    def _marker(self, color: str, hollow: bool = False) -> tuple[Any, Any]:
        """(brush, pen) of a point: filled, or a ring where the SLO is met only on the mean."""
        qc = self.colors.series(color)
        if hollow:
            return pg.mkBrush(None), pg.mkPen(qc, width=2)
        return pg.mkBrush(qc), pg.mkPen(qc, width=1)

    def _legend_sample(self, color: str, hollow: bool = False) -> pg.ScatterPlotItem:
        brush, pen = self._marker(color, hollow)
        return pg.ScatterPlotItem(brush=brush, pen=pen, size=10)

    def heat_grid(self, figure: str) -> NDArray[np.float64] | None:
        """The two axes' grid of a figure's means (NaN where a point has none)."""
        sweep = self.sweep
        if sweep is None or len(sweep.axes) != 2:
            return None
        a, b = sweep.axes
        z = np.full((len(a.values), len(b.values)), np.nan)
        index_a = {v: i for i, v in enumerate(a.values)}
        index_b = {v: j for j, v in enumerate(b.values)}
        for p in self.points.values():
            e = p.get(figure)
            if e.n and p.values[0] in index_a and p.values[1] in index_b:
                z[index_a[p.values[0]], index_b[p.values[1]]] = e.mean
        return z

    def _draw_heat(self, metric: str, limit: float) -> None:
        figure = str(self.heat_box.currentData())
        z = self.heat_grid(figure)
        plot = self.heat.getPlotItem()
        for t in self.cell_texts:
            plot.removeItem(t)
        self.cell_texts = []
        sweep = self.sweep
        if z is None or sweep is None or not np.isfinite(z).any():
            self.image.clear()
            self.contour.setData(None)
            return
        a, b = sweep.axes
        self.image.setImage(z, autoLevels=False)
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        self.colorbar.setLevels((lo, hi if hi > lo else lo + 1.0))
        objective = self.heat_grid(metric)
        if objective is not None and np.isfinite(objective).any():
            self.contour.setData(np.nan_to_num(objective, nan=np.nanmax(objective) * 10))
            self.contour.setLevel(limit)
            self.contour.setPen(pg.mkPen("#ffffff", width=3))
        plot.getAxis("bottom").setTicks([[(i + 0.5, _tick(v)) for i, v in enumerate(a.values)]])
        plot.getAxis("left").setTicks([[(j + 0.5, _tick(v)) for j, v in enumerate(b.values)]])
        plot.setLabel("bottom", _label(a.path))
        plot.setLabel("left", _label(b.path))
        plot.setTitle(f"colour: {HEAT_FIGURES[figure]}; line: the SLO "
                      f"({OBJECTIVE_NAMES.get(metric, metric)} = {limit:g} s)", size="9pt",
                      color=self.colors.text)
        if z.size <= 144:  # the value in each cell, while they are big enough to hold it
            for i in range(z.shape[0]):
                for j in range(z.shape[1]):
                    if math.isfinite(z[i, j]):
                        light = hi > lo and (z[i, j] - lo) / (hi - lo) > 0.6  # viridis' yellow
                        t = pg.TextItem(f"{z[i, j]:.3g}", anchor=(0.5, 0.5),
                                        color="#202020" if light else "#ffffff")
                        t.setPos(i + 0.5, j + 0.5)
                        plot.addItem(t)
                        self.cell_texts.append(t)
        plot.setRange(xRange=(0, z.shape[0]), yRange=(0, z.shape[1]), padding=0)

    # -- hover and click ------------------------------------------------------------------------

    def describe_point(self, number: int) -> str:
        p = self.points.get(number)
        sweep = self.sweep
        if p is None or sweep is None:
            return ""
        knobs = ", ".join(f"{_label(path)} = {_value(v)}"
                          for path, v in zip(sweep.paths, p.values, strict=True))
        if p.runs == 0:
            return f"point {p.number}: {knobs}\n{p.status}: {p.reason}"
        metric = sweep.objective.metric

        def fig(key: str, unit: str = "", factor: float = 1.0) -> str:
            e = p.get(key)
            if not e.n or not math.isfinite(e.mean):
                return "–"
            hw = f" ± {e.half_width * factor:.2g}" if math.isfinite(e.half_width) else ""
            return f"{e.mean * factor:.3g}{hw}{unit}"

        lines = [f"point {p.number}: {knobs}",
                 f"cost {fig('cost')}, {fig('worker_hours', ' worker-h')}; "
                 f"{OBJECTIVE_NAMES.get(metric, metric)} {fig(metric, ' s')}; "
                 f"mean wait {fig('mean_wait', ' s')}; p99 {fig('wait_p99', ' s')}; "
                 f"dead letters {fig('dead_lettered')}; utilization "
                 f"{fig('utilization', ' %', 100.0)}; "
                 f"meets the SLO: {meets(p, metric, sweep.objective.limit)}"]
        if p.status != "ok":
            lines.append(f"{p.status}: {p.reason}")
        return "\n".join(lines)

    def _tip(self, x: float, y: float, data: Any) -> str:
        return self.describe_point(int(data))

    def _hovered(self, item: Any, points: Any, ev: Any) -> None:
        if len(points):
            self.info.setText(self.describe_point(int(points[0].data())) +
                              ("\nclick: load these knobs and run them, pinned"
                               if item is self.scatter else ""))

    def _clicked(self, item: Any, points: Any, ev: Any = None) -> None:
        if len(points):
            self.load_point(int(points[0].data()))

    def load_point(self, number: int) -> bool:
        """Put the point's knobs in the form and run it; pin it when the run ends (the
        current run is pinned first as the baseline when nothing is pinned yet)."""
        sweep, p = self.sweep, self.points.get(number)
        w = self.main
        if sweep is None or p is None:
            return False
        engine = w.runner.engine
        if not len(w.comparison.pins) and engine is not None and \
                engine.state == RunState.FINISHED:
            w.comparison.pin()
        if engine is not None and engine.state != RunState.IDLE:
            w.reset()
        base = sweep.scenario
        if w.scenario != base:  # the sweep's base scenario: a file's, or the form before edits
            w.set_scenario(replace(base), w.scenario_path)
        for path, value in zip(sweep.paths, p.values, strict=True):
            f = w.form.fields.get(path)
            if f is None:
                continue
            f.editor.set_value(value)
            f.editor.committed.emit(f.editor.value())
            if f.invalid_reason:
                w.status(f"Cannot load point {number}: {_label(path)} {f.invalid_reason}")
                return False
        self._loading = number
        w.set_speed(None)
        w.toggle_run()
        w.status(f"Running point {number}: it is pinned beside the baseline when it ends")
        return True

    def _run_state(self, state: RunState | None) -> None:
        if self._loading is not None and state == RunState.FINISHED:
            number, self._loading = self._loading, None
            pin = self.main.comparison.pin()
            if pin is not None:
                why = self.main.comparison.pins.rename(pin, f"point {number}")
                if why is None:
                    self.main.comparison.refresh_pins()

    # -- files ----------------------------------------------------------------------------------

    def open_sweep(self, path: str | Path) -> bool:
        try:
            sweep = load_sweep(Path(path))
        except (ScenarioError, OSError) as exc:
            self.main.show_error(f"Cannot open {Path(path).name}", str(exc))
            return False
        self.axes = list(sweep.axes)
        self.seeds.setValue(sweep.replications)
        self.main.comparison.set_objective(sweep.objective, sweep.cost)
        self._show_axes()
        return self.start(sweep)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Run a sweep file", str(Path.home()),
                                              "Sweeps (*.toml);;All files (*)")
        if path:
            self.open_sweep(path)

    def export_png(self, path: str | Path) -> bool:
        widget = self.stack.currentWidget()
        ok = widget is not None and bool(widget.grab().save(str(path)))
        if ok:
            self.main.status(f"Saved the chart to {path}")
        else:
            self.main.show_error("Cannot export the chart", f"Cannot write {path}")
        return ok

    def export_csv(self, path: str | Path) -> bool:
        if self.sweep is None:
            return False
        try:
            write_points(Path(path), self.sweep, [self.points[n] for n in sorted(self.points)])
        except OSError as exc:
            self.main.show_error("Cannot export the points",
                                   f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.main.status(f"Wrote {len(self.points):,} points to {path}")
        return True

    def _png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the chart", str(Path.home() /
                                              "sweep.png"), "PNG images (*.png)")
        if path:
            self.export_png(path)

    def _csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the points", str(Path.home() /
                                              "points.csv"), "CSV files (*.csv)")
        if path:
            self.export_csv(path)


if TYPE_CHECKING:
    from numpy.typing import NDArray
