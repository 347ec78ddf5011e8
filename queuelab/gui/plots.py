"""The stacked real-time plots: one shared time axis, the theory overlay and change markers.

Drawing cost, not the simulation, is what freezes a naive monitor, so the plots only ever
hand pyqtgraph a bounded number of points: the rolling window reads the newest rows of the
exact ring, the whole-run view reads the folded copy (at most a few thousand rows however
long the run), peak-decimated to about two points per pixel (`plot_items`). The view moves
in steps, not at every frame; a redraw happens only when new frames arrived, and drawing is
held to a share of the time so a slow machine redraws less often rather than freezing.

Colors come from the window's palette (`plot_style`) and are applied again whenever it
changes, so the plots follow a switch between the light and dark system themes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from queuelab.gui.plot_items import (
    EMPTY,
    FastCurve,
    Series,
    TimeAxis,
    decimate,
    format_clock,
    make_curve,
    nice_ceiling,
    pen_for,
    steps_only,
)
from queuelab.gui.plot_style import PlotColors

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from queuelab.core.engine import AppliedChange
    from queuelab.gui.history import FrameHistory

MAX_MARKERS = 100  # change markers kept on the plots (the oldest go first)
MAX_WINDOW_POINTS = 20_000  # frames read for the rolling window (fine sample intervals)
DRAW_SHARE = 0.4  # at most this share of the wall time goes to drawing the plots
MAX_DRAWN_POINTS = 2_400  # points handed to a curve: about two per pixel of a wide plot
AXIS_WIDTH = 62  # one left-axis width for every plot, so the stacked plots line up

pg.setConfigOptions(antialias=False, background="w", foreground="#222")


class _Line:
    def __init__(self, series: Series, item: FastCurve) -> None:
        self.series = series
        self.item = item


@dataclass(frozen=True)
class PlotSpec:
    key: str
    label: str  # left axis label, with its unit
    series: tuple[Series, ...]
    right_label: str = ""  # a second y axis (its series listed in right_series)
    right_series: tuple[Series, ...] = ()
    y_cap: float | None = None  # the y axis never needs to go above this (100 %)


MAIN_PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("queue", "queue (tasks)", (
        Series("depth", "waiting", "#1f77b4"),
        Series("retrying", "waiting to retry", "#ff7f0e"),
        Series("ref_lq", "Erlang C Lq", "#444444", dashed=True, has_gaps=True),
    )),
    PlotSpec("throughput", "rate (tasks/s)", (
        Series("arrival_rate", "arrivals", "#9467bd"),
        Series("throughput", "completions", "#2ca02c"),
    )),
    PlotSpec("errors", "errors (%)", (
        Series("error_rate", "failed attempts", "#d62728", factor=100.0),
    ), y_cap=100.0, right_label="dead letters (tasks)", right_series=(
        Series("dead_letters", "dead letters", "#8c564b", step=True),
    )),
    PlotSpec("utilization", "utilization (%)", (
        Series("utilization", "utilization", "#1f77b4", factor=100.0),
        Series("ref_rho", "Erlang C ρ", "#444444", factor=100.0, dashed=True, has_gaps=True),
    ), y_cap=100.0, right_label="workers", right_series=(
        Series("workers", "workers", "#ff7f0e", step=True),
    )),
)

WAIT_PLOT = PlotSpec("waits", "wait in queue (s)", (  # p99 first: p50 is drawn on top
    Series("wait_p99", "p99", "#d62728", has_gaps=True),
    Series("wait_p95", "p95", "#ff7f0e", has_gaps=True),
    Series("wait_p50", "p50", "#2ca02c", has_gaps=True),
    Series("ref_wq", "Erlang C mean Wq", "#444444", dashed=True, has_gaps=True),
))


class _Plot:
    """One plot (and its optional second y axis) with its curves and change markers."""

    def __init__(self, plot: pg.PlotItem, spec: PlotSpec, show_marker_labels: bool) -> None:
        self.plot = plot
        self.spec = spec
        self.show_marker_labels = show_marker_labels
        self.curves: list[_Line] = []
        plot.showGrid(x=False, y=False)
        plot.setLabel("left", spec.label)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.hideButtons()
        vb = plot.getViewBox()
        vb.setMouseEnabled(x=True, y=False)  # zoom and pan in time; y follows the data
        vb.disableAutoRange(axis="y")
        legend = plot.addLegend(offset=(4, 2), colCount=len(spec.series) + len(spec.right_series),
                                brush=pg.mkBrush(255, 255, 255, 250), labelTextSize="8pt",
                                pen=pg.mkPen("#bbbbbb"))
        self.legend = legend
        self._legend_has_reference = True
        legend.setZValue(30)
        legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # static: blit it
        for s in spec.series:
            item = make_curve(s)
            plot.addItem(item)
            self.curves.append(_Line(s, item))
        self.right: pg.ViewBox | None = None
        if spec.right_series:
            right = pg.ViewBox(enableMenu=False)
            plot.showAxis("right")
            plot.scene().addItem(right)
            axis = plot.getAxis("right")
            axis.linkToView(right)
            axis.setLabel(spec.right_label)
            axis.setWidth(AXIS_WIDTH)
            right.setXLink(plot)
            right.setMouseEnabled(x=False, y=False)
            right.disableAutoRange(axis="y")
            vb.sigResized.connect(lambda: right.setGeometry(vb.sceneBoundingRect()))
            for s in spec.right_series:
                item = make_curve(s)
                right.addItem(item)
                legend.addItem(item, s.name)
                self.curves.append(_Line(s, item))
            self.right = right
        else:
            # keep the right axis' column as empty space, so the stacked plots line up
            plot.layout.setColumnFixedWidth(2, AXIS_WIDTH)
        for name in ("left", "right", "bottom"):
            # the SI prefix relabels (setHtml) the axis at every range change: costly, and
            # "(x0.001)" helps nobody reading tasks and seconds
            plot.getAxis(name).enableAutoSIPrefix(False)
        self.markers: deque[pg.InfiniteLine] = deque()
        self._tops: dict[int, float] = {}
        self.colors: PlotColors | None = None

    def restyle(self, c: PlotColors) -> None:
        """Axes, legend, curves and markers in the colors of the current palette."""
        self.colors = c
        for name in ("left", "right", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(c.axis)
            axis.setTextPen(c.text)
        self.legend.setBrush(c.legend_fill)
        self.legend.setPen(c.legend_border)
        self.legend.setLabelTextColor(c.text)  # for labels added later (the Erlang C lines)
        for _, label in self.legend.items:  # setLabelTextColor does not redraw existing ones
            label.setText(label.text, color=c.text)
        for line in self.curves:
            line.item.setPen(pen_for(line.series, c.series(line.series.color)))
        for marker in self.markers:
            self._style_marker(marker)
        self.legend.update()

    def _style_marker(self, line: pg.InfiniteLine) -> None:
        c = self.colors
        if c is None:
            return
        line.setPen(pg.mkPen(c.marker, width=1.5, style=Qt.PenStyle.DashLine))
        label = getattr(line, "label", None)
        if label is not None:
            label.setColor(c.marker)
            label.fill = pg.mkBrush(c.marker_fill)
            label.update()

    def set_data(self, x: NDArray[np.float64], columns: dict[str, NDArray[np.float64]],
                 reference_shown: bool) -> None:
        tops = {id(self.plot.getViewBox()): 0.0}
        if self.right is not None:
            tops[id(self.right)] = 0.0
        for c in self.curves:
            s = c.series
            vb = c.item.getViewBox()
            if s.column.startswith("ref_") and not reference_shown:
                c.item.show_data(EMPTY, EMPTY)
                continue
            y = columns[s.column]
            if s.factor != 1.0:
                y = y * s.factor
            xs = x
            if s.has_gaps:
                y = np.where(np.isfinite(y), y, np.nan)  # inf (unstable queue) is a gap too
            if s.column.startswith("ref_"):
                xs, y = steps_only(x, y)
            xs, y = decimate(xs, y, MAX_DRAWN_POINTS)
            top = c.item.show_data(xs, y)
            if vb is not None:
                tops[id(vb)] = max(tops.get(id(vb), 0.0), top)
        self._set_top(self.plot.getViewBox(), tops[id(self.plot.getViewBox())], self.spec.y_cap)
        if self.right is not None:
            self._set_top(self.right, tops[id(self.right)], None)

    def _set_top(self, vb: pg.ViewBox, top: float, cap: float | None) -> None:
        """Y from 0 to a round number above the data: the axis moves only when it must."""
        nice = nice_ceiling(top * 1.08)
        if cap is not None and top <= cap:
            nice = min(nice, cap * 1.05)
        if self._tops.get(id(vb)) != nice:
            self._tops[id(vb)] = nice
            vb.setYRange(0.0, nice, padding=0)

    def show_reference_in_legend(self, shown: bool) -> None:
        """List the Erlang C lines in the legend only when they are drawn."""
        if shown == self._legend_has_reference:
            return
        self._legend_has_reference = shown
        for c in self.curves:
            if c.series.column.startswith("ref_"):
                if shown:
                    self.legend.addItem(c.item, c.series.name)
                else:
                    self.legend.removeItem(c.item)

    def add_marker(self, change: AppliedChange) -> None:
        line = pg.InfiniteLine(
            pos=change.t, angle=90, movable=False,
            pen=pg.mkPen("#7b1fa2", width=1.5, style=Qt.PenStyle.DashLine),
            label=change.label() if self.show_marker_labels else None,
            labelOpts={"position": 0.82, "color": "#7b1fa2", "fill": (255, 255, 255, 220),
                       "anchors": [(0, 0.5), (0, 0.5)]},
        )
        line.setToolTip(f"t = {format_clock(change.t)}: {change.label()}")
        line.setZValue(20)
        self._style_marker(line)
        self.plot.addItem(line, ignoreBounds=True)
        self.markers.append(line)
        while len(self.markers) > MAX_MARKERS:
            self.plot.removeItem(self.markers.popleft())

    def update_last_marker(self, change: AppliedChange) -> None:
        if not self.markers:
            return
        line = self.markers[-1]
        line.setPos(change.t)
        label = getattr(line, "label", None)  # only the top plot's markers carry one
        if label is not None:
            label.setFormat(change.label())
        line.setToolTip(f"t = {format_clock(change.t)}: {change.label()}")

    def clear_markers(self) -> None:
        while self.markers:
            self.plot.removeItem(self.markers.popleft())


class _TimedCanvas(pg.GraphicsLayoutWidget):
    """A plot canvas that tells its panel how long each paint took (see PlotPanel.redraw)."""

    def __init__(self, panel: PlotPanel) -> None:
        super().__init__()
        self._panel = panel

    def paintEvent(self, event: Any) -> None:
        began = time.perf_counter()
        super().paintEvent(event)
        self._panel.add_paint_cost(time.perf_counter() - began)


WINDOWS: tuple[tuple[str, float | None], ...] = (
    ("last 1 min", 60.0),
    ("last 5 min", 300.0),
    ("last 15 min", 900.0),
    ("last 1 h", 3600.0),
    ("last 6 h", 21600.0),
    ("whole run", None),
)


class PlotPanel(QWidget):
    """The stacked plots of the main window, plus the wait-percentile plot for its own tab."""

    follow_changed = Signal(bool)  # False once the user pans or zooms away from "now"

    def __init__(self, history: FrameHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.span: float | None = 900.0  # rolling window in scenario seconds; None = whole run
        self.follow = True
        self.reference_shown = False
        self.redraws = 0
        self._dirty = False
        self._setting_range = False
        self._x_end: float | None = None  # right edge of the rolling window last shown
        self.draw_cost = 0.0  # seconds spent drawing since the last redraw (set-up + paint)
        self._cost = 0.0  # smoothed cost of one redraw
        self._next_redraw = 0.0  # perf_counter time before which no redraw starts

        self.canvas = _TimedCanvas(self)
        self.canvas.ci.setSpacing(12)  # room for the top and bottom tick labels of neighbours
        self.canvas.ci.setContentsMargins(2, 4, 2, 2)
        self.plots: dict[str, _Plot] = {}
        last = len(MAIN_PLOTS) - 1
        first: pg.PlotItem | None = None
        for i, spec in enumerate(MAIN_PLOTS):
            item = self.canvas.addPlot(row=i, col=0, axisItems={"bottom": TimeAxis("bottom")},
                                       enableMenu=False)
            p = _Plot(item, spec, show_marker_labels=(i == 0))
            if first is None:
                first = item
            else:
                item.setXLink(first)
            if i == last:
                item.setLabel("bottom", "scenario time")
            else:
                item.hideAxis("bottom")  # the shared time axis is drawn once, at the bottom
            self.plots[spec.key] = p
        assert first is not None
        self._first = first

        self.wait_canvas = _TimedCanvas(self)
        wait_item = self.wait_canvas.addPlot(axisItems={"bottom": TimeAxis("bottom")},
                                             enableMenu=False)
        wait_item.setLabel("bottom", "scenario time")
        wait_item.setXLink(first)
        self.wait_plot = _Plot(wait_item, WAIT_PLOT, show_marker_labels=True)
        self.plots[WAIT_PLOT.key] = self.wait_plot

        for p in self.plots.values():
            p.plot.getViewBox().sigRangeChangedManually.connect(self._user_moved)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.canvas)
        self.restyle()

    # -- colors ---------------------------------------------------------------------------------

    def restyle(self) -> None:
        """Take the colors of the current palette (light or dark)."""
        c = PlotColors.from_palette(self.palette())
        self.colors = c
        for canvas in (self.canvas, self.wait_canvas):
            canvas.setBackground(c.background)
        for p in self.plots.values():
            p.restyle(c)
        self._dirty = True

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    # -- settings -------------------------------------------------------------------------------

    def set_window(self, seconds: float | None) -> None:
        """A rolling window of `seconds`, or the whole run (None); follows "now" again."""
        self.span = seconds
        self.set_follow(True)

    def set_follow(self, follow: bool) -> None:
        self.follow = follow
        self._x_end = None
        self._dirty = True
        self.follow_changed.emit(follow)

    def set_reference_shown(self, shown: bool) -> None:
        self.reference_shown = shown
        for p in self.plots.values():
            p.show_reference_in_legend(shown)
        self._dirty = True

    def _user_moved(self, *_: object) -> None:
        if self._setting_range:
            return
        self._dirty = True  # the rows to draw depend on the part of the run in view
        if self.follow:
            self.follow = False
            self.follow_changed.emit(False)

    # -- data -----------------------------------------------------------------------------------

    def mark_dirty(self) -> None:
        self._dirty = True

    def clear(self) -> None:
        self._x_end = None
        for p in self.plots.values():
            p.clear_markers()
        self._dirty = True
        self.redraw(force=True)

    def add_marker(self, change: AppliedChange) -> None:
        for p in self.plots.values():
            p.add_marker(change)

    def update_last_marker(self, change: AppliedChange) -> None:
        for p in self.plots.values():
            p.update_last_marker(change)

    def redraw(self, force: bool = False) -> bool:
        """Hand the visible data to the curves; returns whether anything was drawn.

        Drawing may take at most DRAW_SHARE of the time: when a redraw and its paint cost
        more than a slow or busy machine can give at 30 per second, redraws space out
        instead of starving the simulation (and the rest of the window) of the loop.
        """
        if not (self._dirty or force):
            return False
        began = time.perf_counter()
        if not force and began < self._next_redraw:
            return False
        self._dirty = False
        try:
            return self._redraw()
        finally:
            self.draw_cost += time.perf_counter() - began
            self._schedule_next()

    @property
    def next_redraw_at(self) -> float:
        """perf_counter time before which a redraw waits (see `redraw`)."""
        return self._next_redraw

    def add_paint_cost(self, seconds: float) -> None:
        self.draw_cost += seconds

    def _schedule_next(self) -> None:
        """Space redraws so that drawing (set-up and paint) stays within DRAW_SHARE."""
        cost, self.draw_cost = self.draw_cost, 0.0
        self._cost = 0.7 * self._cost + 0.3 * cost if self._cost else cost
        self._next_redraw = time.perf_counter() + self._cost * (1.0 / DRAW_SHARE - 1.0)

    def _redraw(self) -> bool:
        columns = self._columns()
        x = columns["t"]
        for p in self.plots.values():
            if p.plot.getViewWidget() is not None and p.plot.getViewWidget().isVisible():
                p.set_data(x, columns, self.reference_shown)  # a hidden tab waits its turn
        if self.follow and x.size:
            self._setting_range = True
            try:
                if self.span is not None:
                    # the view advances in steps of 1/20 of the window, not at every redraw:
                    # the time axis and the curves' bounds are then recomputed 20 times a
                    # window rather than 30 times a second
                    step = self.span / 20.0
                    end = max(self.span, math.ceil(float(x[-1]) / step) * step)
                    if self._x_end != end:
                        self._x_end = end
                        self._first.setXRange(end - self.span, end, padding=0)
                else:
                    # the whole run from 0 to a round time past its end, moved in steps too
                    last = max(float(x[-1]), 1.0)
                    step = 10.0 ** math.floor(math.log10(last)) / 2.0
                    end = math.ceil(last / step) * step
                    if end == last:
                        end += step
                    if self._x_end != end:
                        self._x_end = end
                        self._first.setXRange(0.0, end, padding=0)
            finally:
                self._setting_range = False
        self.redraws += 1
        return True

    def _columns(self) -> dict[str, NDArray[np.float64]]:
        """The rows to draw: the rolling window's, the part of the run panned or zoomed to,
        or the whole run folded (exact until it holds more frames than it has rows)."""
        names = {"t"} | {c.series.column for p in self.plots.values() for c in p.curves}
        h = self.history
        if self.follow and self.span is not None:
            interval = _interval(h)
            n = min(MAX_WINDOW_POINTS, int(self.span / interval) + 2) if interval else len(h)
            return {name: h.last(name, n) for name in names}
        if not self.follow and len(h):
            (x0, x1), _ = self._first.getViewBox().viewRange()
            margin = x1 - x0  # a view's width on each side to pan into
            n = h.count_since(x0 - margin)
            keep = n - h.count_since(x1 + margin)
            oldest = float(h.last("t", len(h))[0])
            if keep <= MAX_WINDOW_POINTS and (oldest <= x0 or h.complete):
                return {name: h.last(name, n)[:keep] for name in names}
        return {n: h.coarse.column(n) for n in names}


def _interval(h: FrameHistory) -> float:
    """The spacing of the newest frames (0 when unknown)."""
    t = h.last("t", 2)
    return float(t[1] - t[0]) if t.size == 2 and t[1] > t[0] else 0.0
