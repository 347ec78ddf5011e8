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

import html
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from queuelab.core.segments import RUNNING, running_means
from queuelab.gui.history import OFFERED_COLUMN
from queuelab.gui.plot_items import (
    EMPTY,
    FastCurve,
    Series,
    TimeAxis,
    ValueAxis,
    decimate,
    format_clock,
    make_curve,
    nice_ceiling,
    pen_for,
    steps_only,
    trailing_mean,
    trailing_sum,
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
LEGEND_HEIGHT = 16  # the legend's row above each plot: outside the data, never over it
LABEL_ROWS = 3  # change-marker labels stack in up to this many rows at the top
LABEL_ROW_PX = 15
LABEL_MAX_CHARS = 34  # a longer label is ellipsized; the full text shows on hover
FEW_EVENTS = 5  # a share measured over fewer events than this is drawn faded
COUNT_FLOOR = 4.0  # an empty count axis still reads 0..4, in whole numbers

pg.setConfigOptions(antialias=False, background="w", foreground="#222")


class _Line:
    def __init__(self, series: Series, item: FastCurve) -> None:
        self.series = series
        self.item = item
        self.faded: FastCurve | None = None  # the sparse part of a share, drawn faded


class _Ghost:
    """A pinned run's curve on one plot: its fixed data, muted, with a legend entry."""

    def __init__(self, series: Series, color: QColor, x: NDArray[np.float64],
                 y: NDArray[np.float64], right: bool) -> None:
        self.series = series
        self.color = color
        self.right = right
        self.item = make_curve(series)
        pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DotLine)
        self.item.setPen(pen)
        self.top = self.item.show_data(x, y)


def axis_unit(title: str) -> str:
    """The unit an axis title ends with in brackets ("rate (tasks/s)" -> "tasks/s"), or ''."""
    head, bracket, unit = title.rpartition(" (")
    return unit.split(")", 1)[0] if bracket and head and ")" in unit else ""


@dataclass(frozen=True)
class PlotSpec:
    key: str
    label: str  # left axis label, with its unit
    series: tuple[Series, ...]
    right_label: str = ""  # a second y axis (its series listed in right_series)
    right_series: tuple[Series, ...] = ()
    y_cap: float | None = None  # the y axis never needs to go above this (100 %)
    counts: bool = False  # the left axis counts tasks: whole-number ticks
    right_counts: bool = False


OFFERED_NAME = "offered λ(t)"  # the rate plot's dashed line of the load offered

RUNNING_COLOR = "#6a1b9a"
"""The running means (`core.segments.running_means`): one color on every plot, drawn two
pixels wide, beside the dashed grey theory line they are to be compared with."""

MAIN_PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("queue", "queue (tasks)", (
        Series("depth", "waiting", "#1f77b4"),
        Series("retrying", "waiting to retry", "#ff7f0e"),
        Series("in_flight", "in flight", "#008b8b"),
        Series("run_lq", "waiting, running mean", RUNNING_COLOR, has_gaps=True, bold=True),
        Series("ref_lq", "theory Lq", "#444444", dashed=True, has_gaps=True),
    ), counts=True),
    PlotSpec("throughput", "rate (tasks/s)", (
        Series("arrival_rate", "arrivals", "#9467bd", smooth=True),
        Series("throughput", "completions", "#2ca02c", smooth=True),
        # the callers (`[clients]`): shown once some have timed out in the rows drawn
        Series("goodput", "goodput", "#1396a6", smooth=True, callers=True),
        Series("client_timeouts", "caller timeouts", "#9a9b10", smooth=True, callers=True,
               per_second=True, has_gaps=True),
        Series("retry_rate", "retries", "#e377c2", smooth=True),
        # the load offered, λ(t) of the arrival knobs in force: what the arrivals would be
        # without noise, so the plot reads offered against served. Smoothed like the
        # arrivals it stands beside (a trailing mean of λ is what their trailing mean
        # expects); shown where it is known, not only where Erlang C holds
        Series(OFFERED_COLUMN, OFFERED_NAME, "#444444", dashed=True, has_gaps=True,
               smooth=True, bold=True),
    )),
    PlotSpec("errors", "errors (%)", (
        Series("breaker_open", "breaker open", "#d62728", band=True),
        Series("error_rate", "failed attempts", "#d62728", factor=100.0, smooth=True,
               has_gaps=True),
    ), y_cap=100.0, right_label="dead letters", right_series=(
        Series("dead_letters", "dead letters", "#8c564b", step=True),
    ), right_counts=True),
    PlotSpec("utilization", "utilization (%)", (
        Series("utilization", "utilization", "#1f77b4", factor=100.0, smooth=True),
        Series("run_utilization", "running mean", RUNNING_COLOR, factor=100.0, has_gaps=True,
               bold=True),
        Series("ref_rho", "theory ρ", "#444444", factor=100.0, dashed=True, has_gaps=True),
    ), y_cap=100.0, right_label="workers", right_series=(
        Series("workers", "workers", "#ff7f0e", step=True),
    ), right_counts=True),
)

WAIT_PLOT = PlotSpec("waits", "wait in queue (s)", (  # p99 first: p50 is drawn on top
    Series("wait_p99", "p99", "#d62728", has_gaps=True),
    Series("wait_p95", "p95", "#ff7f0e", has_gaps=True),
    Series("wait_p50", "p50", "#2ca02c", has_gaps=True),
    Series("run_wq", "mean, running", RUNNING_COLOR, has_gaps=True, bold=True),
    Series("ref_wq", "theory mean Wq", "#444444", dashed=True, has_gaps=True),
))

GHOSTS: dict[str, tuple[tuple[str, float, bool], ...]] = {
    "queue": (("depth", 1.0, False),),
    "throughput": (("throughput", 1.0, False),),
    "errors": (("dead_letters", 1.0, True),),
    "utilization": (("workers", 1.0, True),),
    "waits": (("wait_p95", 1.0, False),),
}
"""What a pinned run draws on each plot: (column, factor, on the right axis). One curve a
plot, so the pins stay readable beside the current run's curves."""

GHOST_COLUMNS = frozenset({"t"} | {c for spec in GHOSTS.values() for c, _, _ in spec})

THRESHOLD_LINES: tuple[Series, ...] = (
    Series("scale_up", "scale-up above", "#2e7d32", dashed=True, step=True, has_gaps=True),
    Series("scale_down", "scale-down below", "#00838f", dashed=True, step=True, has_gaps=True),
    Series("target", "target × workers", "#6d4c41", dashed=True, step=True, has_gaps=True),
)
"""The autoscaler's thresholds in force, drawn on the queue plot (see `_Plot.lines_source`)."""

LinesSource = Callable[["NDArray[np.float64]", dict[str, "NDArray[np.float64]"]],
                       dict[str, "NDArray[np.float64]"]]

SLO_COLOR = "#c2185b"
OVERALL_COLORS = {"wait_p95": "#ff7f0e", "wait_p99": "#d62728"}

OFFERED_NAMES = {"trace": "trace density"}
"""The offered line's legend name where it is not an expected rate: a trace has no λ, and
its local density (arrivals per second around t, `TraceArrivals.rate_at`) stands in."""

SHARE_COLUMN = "error_rate"  # the share of finished attempts: faded where few back it
CALLERS_COLUMN = "client_timeouts"  # the callers' curves show once it is above 0


def per_second(x: NDArray[np.float64], count: NDArray[np.float64]) -> NDArray[np.float64]:
    """A running count's growth per second over each row's interval (the first row: NaN)."""
    if x.size < 2:
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.concatenate(([np.nan], np.diff(count) / np.diff(x)))


def attempts_per_row(x: NDArray[np.float64],
                     columns: dict[str, NDArray[np.float64]]) -> NDArray[np.float64]:
    """Attempts finished in each row's interval: completions + retries scheduled + new dead
    letters (a failure ends in one of the two). What backs the row's error percentage."""
    if x.size == 0:
        return x
    dt = np.diff(x, prepend=x[0] - (x[1] - x[0] if x.size > 1 else 1.0))
    dead = columns["dead_letters"]
    new_dead = np.maximum(np.diff(dead, prepend=dead[0]), 0.0)
    return (np.nan_to_num(columns["throughput"]) + np.nan_to_num(columns["retry_rate"])) * dt \
        + new_dead


def smoothing_rows(x: NDArray[np.float64], seconds: float) -> int:
    """How many rows span `seconds` at the rows' own spacing (1: no smoothing)."""
    if seconds <= 0 or x.size < 2:
        return 1
    spacing = float(np.median(np.diff(x[-min(x.size, 64):])))
    return max(1, round(seconds / spacing)) if spacing > 0 else 1


class _Plot:
    """One plot (and its optional second y axis) with its curves and change markers.

    The legend has a row of its own above the plot: it never hides data. Change-marker
    labels (on the plot that carries them) stack in a few rows at the top, for which the y
    axis keeps headroom, and never overlap: a label with no free row hides, and every
    marker shows its full text on hover.
    """

    def __init__(self, plot: pg.PlotItem, spec: PlotSpec, show_marker_labels: bool) -> None:
        self.plot = plot
        self.spec = spec
        self.show_marker_labels = show_marker_labels
        self.curves: list[_Line] = []
        self.smoothing = ""  # said in the axis label when on
        self._axis_text = {"left": spec.label, "right": spec.right_label}  # wanted
        self._axis_shown: dict[str, str] = {}  # what fits (fit_axis_labels)
        plot.showGrid(x=False, y=False)
        plot.setLabel("left", spec.label)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.hideButtons()
        vb = plot.getViewBox()
        vb.setMouseEnabled(x=True, y=False)  # zoom and pan in time; y follows the data
        vb.disableAutoRange(axis="y")
        # the legend takes the title's row: above the data, never over it
        self.legend = LegendRow(plot)
        self._legend_has_reference = True
        self._legend_has_running = False
        self._legend_has_band = False
        self._callers_shown = False  # the callers' curves are drawn (some timed out)
        self._offered_shown = False  # the offered load is known in the rows drawn
        self.band: _Line | None = None
        for s in spec.series:
            item = make_curve(s)
            if s.band:
                item.setZValue(-10)
                plot.addItem(item, ignoreBounds=True)
                self.band = _Line(s, item)
                continue
            plot.addItem(item)
            line = _Line(s, item)
            if s.column == SHARE_COLUMN:
                line.faded = make_curve(Series(s.column, s.name, s.color, has_gaps=True))
                plot.addItem(line.faded)
            self.curves.append(line)
        self.right: pg.ViewBox | None = None
        if spec.right_series:
            right = pg.ViewBox(enableMenu=False)
            plot.showAxis("right")
            plot.scene().addItem(right)
            axis = plot.getAxis("right")
            axis.linkToView(right)
            axis.setLabel(spec.right_label)
            self._axis_shown["right"] = spec.right_label
            axis.setWidth(AXIS_WIDTH)
            right.setXLink(plot)
            right.setMouseEnabled(x=False, y=False)
            right.disableAutoRange(axis="y")
            vb.sigResized.connect(lambda: right.setGeometry(vb.sceneBoundingRect()))
            for s in spec.right_series:
                item = make_curve(s)
                right.addItem(item)
                self.curves.append(_Line(s, item))
            self.right = right
        else:
            # keep the right axis' column as empty space, so the stacked plots line up
            plot.layout.setColumnFixedWidth(2, AXIS_WIDTH)
        for name in ("left", "right", "bottom"):
            # the SI prefix relabels (setHtml) the axis at every range change: costly, and
            # "(x0.001)" helps nobody reading tasks and seconds
            plot.getAxis(name).enableAutoSIPrefix(False)
        vb.sigResized.connect(self.fit_axis_labels)
        #: computed lines beside the history's (the thresholds in force): column → y per row
        self.lines_source: LinesSource | None = None
        self.lines: dict[str, FastCurve] = {}
        self._lines_shown: frozenset[str] = frozenset()
        self.slo: tuple[str, float] | None = None  # (frame column, limit) shaded where broken
        self.slo_band: FastCurve | None = None
        self.slo_line: pg.InfiniteLine | None = None
        self.overall_lines: dict[str, pg.InfiniteLine] = {}
        self.floor = 0.0  # the y axis reaches at least this high (an SLO line must show)
        self.markers: deque[pg.InfiniteLine] = deque()
        self.ghosts: list[_Ghost] = []  # pinned runs' curves (pins.py), drawn muted
        self.overlays: list[tuple[Series, QColor]] = []  # legend entries of the SLO and such
        self._tops: dict[int, float] = {}
        self._label_layout: tuple[object, ...] = ()
        self.colors: PlotColors | None = None

    def restyle(self, c: PlotColors) -> None:
        """Axes, legend, curves and markers in the colors of the current palette."""
        self.colors = c
        for name in ("left", "right", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(c.axis)
            axis.setTextPen(c.text)
        for line in self.curves:
            color = c.series(line.series.color)
            line.item.setPen(pen_for(line.series, color))
            if line.faded is not None:
                faint = QColor(color)
                faint.setAlphaF(0.3)
                line.faded.setPen(pen_for(line.series, faint))
        if self.band is not None:
            shade = QColor(c.series(self.band.series.color))
            shade.setAlphaF(0.12 if not c.dark else 0.22)
            self.band.item.setPen(pg.mkPen(None))
            self.band.item.setBrush(pg.mkBrush(shade))
        for marker in self.markers:
            self._style_marker(marker)
        self._show_legend()

    def _show_legend(self) -> None:
        """The legend's entries: every curve drawn, the theory lines only when shown, the
        shaded band only when it shades something."""
        c = self.colors
        if c is None:
            return
        entries = [(line.series, c.series(line.series.color)) for line in self.curves
                   if (self._legend_has_reference or not line.series.column.startswith("ref_"))
                   and (self._callers_shown or not line.series.callers)
                   and (self._offered_shown or line.series.column != OFFERED_COLUMN)
                   and (self._legend_has_running or not line.series.column.startswith("run_"))]
        if self.band is not None and self._legend_has_band:
            entries.insert(0, (self.band.series, c.series(self.band.series.color)))
        entries += self.overlays
        entries += [(sr, c.series(sr.color)) for sr in THRESHOLD_LINES
                    if sr.column in self._lines_shown]
        entries += [(g.series, g.color) for g in self.ghosts if g.item.isVisible()]
        self.legend.show_entries(entries, c.text)

    def set_ghosts(self, ghosts: list[_Ghost]) -> None:
        """Replace the pinned runs' curves on this plot (their data are fixed)."""
        for g in self.ghosts:
            (self.right if g.right and self.right is not None else self.plot).removeItem(g.item)
        self.ghosts = ghosts
        for g in ghosts:
            g.item.setZValue(-5)  # under the current run's curves
            (self.right if g.right and self.right is not None else self.plot).addItem(g.item)
        self._show_legend()

    def _style_marker(self, line: pg.InfiniteLine) -> None:
        c = self.colors
        if c is None:
            return
        line.setPen(pg.mkPen(c.marker, width=1.5, style=Qt.PenStyle.DashLine))
        label = getattr(line, "label", None)
        if label is not None:
            label.setColor(c.marker)
            label.fill = pg.mkBrush(None)  # no box: the label sits in headroom above the data
            label.update()

    def set_smoothing(self, text: str) -> None:
        """Name the smoothing window in the axis label ('' when off)."""
        if text == self.smoothing:
            return
        self.smoothing = text
        if any(c.series.smooth for c in self.curves if c.item.getViewBox() is
               self.plot.getViewBox()):
            self._axis_text["left"] = self.spec.label + (f", {text} mean" if text else "")
            self.fit_axis_labels()

    def fit_axis_labels(self) -> None:
        """Each y axis' title as long as the plot is tall: in full, else its unit alone
        ("tasks/s"), else none, so that the titles of short stacked plots never run into
        each other (the legend row above each plot names what is drawn)."""
        height = self.plot.getViewBox().height()
        for side, text in self._axis_text.items():
            if not text:
                continue
            axis = self.plot.getAxis(side)
            fits = axis.label.font()
            shown = next((t for t in (text, axis_unit(text), "")
                          if not t or QFontMetricsF(fits).horizontalAdvance(t) <= height), "")
            if self._axis_shown.get(side) != shown:
                self._axis_shown[side] = shown
                axis.setLabel(shown)

    def set_data(self, x: NDArray[np.float64], columns: dict[str, NDArray[np.float64]],
                 reference_shown: bool, smooth_rows: int = 1, running_shown: bool = False
                 ) -> None:
        tops = {id(self.plot.getViewBox()): 0.0}
        if self.right is not None:
            tops[id(self.right)] = 0.0
        timeouts = columns[CALLERS_COLUMN]
        callers = bool(timeouts.size) and bool(np.nanmax(timeouts, initial=0.0) > 0)
        if callers != self._callers_shown:
            self._callers_shown = callers
            self._show_legend()
        for c in self.curves:
            s = c.series
            vb = c.item.getViewBox()
            if (s.column.startswith("ref_") and not reference_shown) or (
                    s.callers and not callers) or (
                    s.column.startswith("run_") and not running_shown):
                c.item.show_data(EMPTY, EMPTY)
                continue
            y = columns[s.column]
            if s.column == OFFERED_COLUMN:
                self._offer_in_legend(bool(np.isfinite(y).any()))
            if s.per_second:
                y = per_second(x, y)
            if s.column == SHARE_COLUMN:
                y, sparse = self._share(x, columns, smooth_rows)
            elif s.smooth and smooth_rows > 1:
                y = trailing_mean(y, smooth_rows)
            if s.factor != 1.0:
                y = y * s.factor
            xs = x
            if s.has_gaps:
                y = np.where(np.isfinite(y), y, np.nan)  # inf (unstable queue) is a gap too
            if s.column.startswith("ref_") or s.column == OFFERED_COLUMN:
                xs, y = steps_only(x, y)  # a flat stretch as two points, not thousands
            if c.faded is not None:
                fx, fy = decimate(xs, y, MAX_DRAWN_POINTS)  # the whole share, faint …
                c.faded.show_data(fx, fy)
                y = np.where(sparse, np.nan, y)  # … and firm where enough attempts back it
            xs, y = decimate(xs, y, MAX_DRAWN_POINTS)
            top = c.item.show_data(xs, y)
            if c.faded is not None and fy.size:
                top = max(top, float(np.fmax.reduce(fy)) if np.isfinite(fy).any() else 0.0)
            if vb is not None:
                tops[id(vb)] = max(tops.get(id(vb), 0.0), top)
        if self.lines_source is not None:
            tops[id(self.plot.getViewBox())] = max(tops[id(self.plot.getViewBox())],
                                                   self._show_lines(x, columns))
        for g in self.ghosts:
            vb = g.item.getViewBox()
            if vb is not None and g.item.isVisible():
                tops[id(vb)] = max(tops.get(id(vb), 0.0), g.top)
        vb = self.plot.getViewBox()
        self._set_top(vb, max(tops[id(vb)], self.floor), self.spec.y_cap, self.spec.counts)
        if self.right is not None:
            self._set_top(self.right, tops[id(self.right)], None, self.spec.right_counts)
        if self.band is not None:
            self._show_band(x, columns[self.band.series.column])
        if self.slo_band is not None:
            self._show_slo(x, columns)

    @staticmethod
    def _share(x: NDArray[np.float64], columns: dict[str, NDArray[np.float64]],
               k: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """The error share over the smoothing window (failed / finished attempts, weighted
        by attempts, not a mean of ratios) and where fewer than FEW_EVENTS back it."""
        n = attempts_per_row(x, columns)
        share = columns[SHARE_COLUMN]
        failed = np.nan_to_num(share) * n
        if k > 1:
            n, failed = trailing_sum(n, k), trailing_sum(failed, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(n > 0, failed / n, np.nan)
        return y, n < FEW_EVENTS

    def _show_band(self, x: NDArray[np.float64], state: NDArray[np.float64]) -> None:
        """Shade the time the state was on (the breaker open), the plot's full height."""
        on = np.nan_to_num(state) > 0
        shown = bool(on.any())
        if shown != self._legend_has_band:
            self._legend_has_band = shown
            self._show_legend()
        assert self.band is not None
        if not shown:
            self.band.item.show_data(EMPTY, EMPTY)
            return
        top = self._tops.get(id(self.plot.getViewBox()), 1.0)
        xs, ys = decimate(x, np.where(on, top, 0.0), MAX_DRAWN_POINTS)
        self.band.item.show_data(xs, ys)

    def _show_lines(self, x: NDArray[np.float64],
                    columns: dict[str, NDArray[np.float64]]) -> float:
        """Draw the computed lines; returns their top (the y axis makes room for them)."""
        assert self.lines_source is not None
        ys = self.lines_source(x, columns) if x.size else {}
        top = 0.0
        shown = frozenset(k for k, y in ys.items() if np.isfinite(y).any())
        if not shown and not self._lines_shown:
            return top  # nothing drawn, nothing to clear: no curve touched (a fixed pool)
        for series in THRESHOLD_LINES:
            item = self.lines.get(series.column)
            if item is None:
                item = make_curve(series)
                item.setZValue(5)
                self.plot.addItem(item)
                self.lines[series.column] = item
            if self.colors is not None:
                item.setPen(pen_for(series, self.colors.series(series.color)))
            if series.column not in shown:
                if series.column in self._lines_shown:
                    item.show_data(EMPTY, EMPTY)
                continue
            xs, y = steps_only(x, ys[series.column])
            top = max(top, item.show_data(xs, y))
        if shown != self._lines_shown:
            self._lines_shown = shown
            self._show_legend()
        return top

    def _show_slo(self, x: NDArray[np.float64], columns: dict[str, NDArray[np.float64]]) -> None:
        """Shade the frames whose statistic breaks the SLO, the plot's full height."""
        assert self.slo_band is not None
        if self.slo is None or self.slo[0] not in columns:
            self.slo_band.show_data(EMPTY, EMPTY)
            return
        column, limit = self.slo
        broken = np.nan_to_num(columns[column]) > limit
        top = self._tops.get(id(self.plot.getViewBox()), 1.0)
        xs, ys = decimate(x, np.where(broken, top, 0.0), MAX_DRAWN_POINTS)
        self.slo_band.show_data(xs, ys)

    def _set_top(self, vb: pg.ViewBox, top: float, cap: float | None, counts: bool) -> None:
        """Y from 0 to a round number above the data: the axis moves only when it must.
        An empty percentage axis reads 0-100 %, an empty count axis 0..COUNT_FLOOR; the plot
        with marker labels keeps headroom for them above the data."""
        if top <= 0 and cap is not None:
            top = cap
        if counts:
            top = max(top, COUNT_FLOOR)
        nice = nice_ceiling(top * 1.08)
        if cap is not None and top <= cap:
            nice = min(nice, cap * 1.05)
        if self.show_marker_labels and self.markers and vb is self.plot.getViewBox():
            rows = max(1, self._label_rows_used())
            height = max(40.0, vb.height())
            nice = nice / max(0.4, 1.0 - (rows * LABEL_ROW_PX + 4) / height)
        if self._tops.get(id(vb)) != nice:
            self._tops[id(vb)] = nice
            vb.setYRange(0.0, nice, padding=0)

    def _offer_in_legend(self, shown: bool) -> None:
        """List the offered load only while it has a value in the rows drawn (a monitored
        queue's arrivals are not a scenario's: no line, no entry)."""
        if shown != self._offered_shown:
            self._offered_shown = shown
            self._show_legend()

    def name_offered(self, process: str) -> None:
        """Call the offered line what it is for the arrival process in force."""
        name = OFFERED_NAMES.get(process, OFFERED_NAME)
        for line in self.curves:
            if line.series.column == OFFERED_COLUMN and line.series.name != name:
                line.series = replace(line.series, name=name)
                self._show_legend()

    def show_running_in_legend(self, shown: bool) -> None:
        """List the running means in the legend only when they are drawn."""
        if shown != self._legend_has_running:
            self._legend_has_running = shown
            self._show_legend()

    def show_reference_in_legend(self, shown: bool) -> None:
        """List the theory lines in the legend only when they are drawn."""
        if shown == self._legend_has_reference:
            return
        self._legend_has_reference = shown
        self._show_legend()

    def add_marker(self, change: AppliedChange) -> None:
        text = change.label()
        line = pg.InfiniteLine(
            pos=change.t, angle=90, movable=False,
            pen=pg.mkPen("#7b1fa2", width=1.5, style=Qt.PenStyle.DashLine),
            label=_ellipsized(text) if self.show_marker_labels else None,
            labelOpts={"position": 0.95, "color": "#7b1fa2", "anchors": [(0, 0.5), (0, 0.5)]},
        )
        line.full_text = text
        line.setToolTip(f"t = {format_clock(change.t)}: {text}")
        line.setZValue(20)
        label = getattr(line, "label", None)
        if label is not None:
            label.setToolTip(line.toolTip())
        self._style_marker(line)
        self.plot.addItem(line, ignoreBounds=True)
        self.markers.append(line)
        while len(self.markers) > MAX_MARKERS:
            self.plot.removeItem(self.markers.popleft())
        self._label_layout = ()

    def update_last_marker(self, change: AppliedChange) -> None:
        if not self.markers:
            return
        line = self.markers[-1]
        line.setPos(change.t)
        text = change.label()
        line.full_text = text
        line.setToolTip(f"t = {format_clock(change.t)}: {text}")
        label = getattr(line, "label", None)  # only the top plot's markers carry one
        if label is not None:
            label.setFormat(_ellipsized(text))
            label.setToolTip(line.toolTip())
        self._label_layout = ()

    def clear_markers(self) -> None:
        while self.markers:
            self.plot.removeItem(self.markers.popleft())
        self._label_layout = ()

    def _label_rows_used(self) -> int:
        shown = [m.label_row for m in self.markers if getattr(m, "label_row", None) is not None
                 and m.label.isVisible()]
        return 1 + max(shown, default=0)

    def layout_labels(self) -> None:
        """Give each visible marker label a row at the top where it overlaps no other (left
        to right, first free row); a label with no free row is hidden (its line keeps the
        full text on hover). Laid out again only when the view or the markers changed."""
        if not self.show_marker_labels or not self.markers:
            return
        vb = self.plot.getViewBox()
        (x0, x1), _ = vb.viewRange()
        width, height = vb.width(), vb.height()
        key = (x0, x1, width, height, len(self.markers), id(self.markers[-1]))
        if key == self._label_layout or width <= 0 or height <= 0 or x1 <= x0:
            return
        self._label_layout = key
        px = width / (x1 - x0)
        rows = self.label_rows(height)
        ends = [-math.inf] * rows  # right edge (pixels) of the last label in each row
        for m in sorted(self.markers, key=lambda m: m.value()):
            label = m.label
            x = (m.value() - x0) * px
            w = label.boundingRect().width()
            # right of its line, or left of it where the right edge would cut it off
            left = x + w > width and x - w >= 0
            start = x - w if left else x
            row = next((r for r in range(rows) if ends[r] + 6 <= start), None)
            if row is None or x < 0 or x > width:
                label.setVisible(False)
                m.label_row = 0
                continue
            ends[row] = start + w
            m.label_row = row
            label.anchors = [(1, 0.5), (1, 0.5)] if left else [(0, 0.5), (0, 0.5)]
            label.setVisible(True)
            label.setPosition(1.0 - (row * LABEL_ROW_PX + LABEL_ROW_PX / 2 + 2) / height)
            label.updatePosition()

    @staticmethod
    def label_rows(height: float) -> int:
        """Rows of marker labels a plot this tall can spare: at most a third of it."""
        return max(1, min(LABEL_ROWS, int(height / 3 // LABEL_ROW_PX)))


class LegendRow:
    """A plot's legend as one line of text in the row above it: a colored sample and the
    name of each curve. Outside the data, so it hides nothing at any window size."""

    def __init__(self, plot: pg.PlotItem) -> None:
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.hide()
        self.label = pg.LabelItem("", size="8pt", justify="left")
        self.label.setParentItem(plot)
        plot.layout.addItem(self.label, 0, 1)
        plot.layout.setRowFixedHeight(0, LEGEND_HEIGHT)
        self.entries: list[tuple[str, str]] = []  # (name, color): what the row shows
        self.text_color = ""

    def show_entries(self, entries: list[tuple[Series, QColor]], text: QColor) -> None:
        self.entries = [(s.name, color.name()) for s, color in entries]
        self.text_color = text.name()
        parts = []
        for s, color in entries:
            sample = "▮" if s.band else ("╌╌" if s.dashed else "━━")
            parts.append(f"<span style='color:{color.name()}'>{sample}</span>&nbsp;"
                         f"<span style='color:{text.name()}'>{html.escape(s.name)}</span>")
        self.label.setText("&nbsp;&nbsp;&nbsp;".join(parts), size="8pt")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.entries]


def _ellipsized(text: str) -> str:
    return text if len(text) <= LABEL_MAX_CHARS else text[:LABEL_MAX_CHARS - 1] + "…"


class _TimedCanvas(pg.GraphicsLayoutWidget):
    """A plot canvas that tells its panel how long each paint took (see PlotPanel.redraw)."""

    def __init__(self, panel: PlotPanel) -> None:
        super().__init__()
        self._panel = panel

    def paintEvent(self, event: Any) -> None:
        clock = self._panel.clock
        began = clock()
        super().paintEvent(event)
        self._panel.add_paint_cost(clock() - began)


SMOOTHING: tuple[tuple[str, float], ...] = (("off", 0.0), ("10 s", 10.0), ("1 min", 60.0))
"""Windows over which rates and percentages are averaged before they are drawn."""

DEFAULT_WINDOW = 900.0  # the plots' rolling window at start, and the selector's

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

    def __init__(self, history: FrameHistory, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(parent)
        self.history = history
        self.clock = clock  # times the drawing (a test hands in its own, to test the pacing)
        self.span: float | None = DEFAULT_WINDOW  # rolling window (scenario s); None = whole run
        self.smoothing = 0.0  # seconds over which rates and percentages are averaged; 0 = off
        self.follow = True
        self.reference_shown = False
        # running means since `running_since` (the current segment's measured start), drawn
        # beside the raw frames so that a theory line has something steady to meet
        self.running_shown = False
        self.running_since = 0.0
        self.redraws = 0
        self._dirty = False
        self._setting_range = False
        self._x_end: float | None = None  # right edge of the rolling window last shown
        self.draw_cost = 0.0  # seconds spent drawing since the last redraw (set-up + paint)
        self._cost = 0.0  # smoothed cost of one redraw
        self._next_redraw = 0.0  # clock time before which no redraw starts

        self._objective: tuple[str | None, float, dict[str, float] | None] | None = None
        self.canvas = _TimedCanvas(self)
        self.canvas.ci.setSpacing(12)  # room for the top and bottom tick labels of neighbours
        self.canvas.ci.setContentsMargins(2, 4, 2, 2)
        self.plots: dict[str, _Plot] = {}
        last = len(MAIN_PLOTS) - 1
        first: pg.PlotItem | None = None
        for i, spec in enumerate(MAIN_PLOTS):
            item = self.canvas.addPlot(row=i, col=0, axisItems=_axes(spec), enableMenu=False)
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
        wait_item = self.wait_canvas.addPlot(axisItems=_axes(WAIT_PLOT), enableMenu=False)
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
        if self._objective is not None:
            self.set_objective(*self._objective)
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

    def x_range(self) -> tuple[float, float]:
        """The scenario-time range the plots show now."""
        lo, hi = self._first.getViewBox().viewRange()[0]
        return float(lo), float(hi)

    def set_gaps(self, gaps: bool) -> None:
        """Break every line where a value is NaN (a monitored source that did not answer),
        instead of only the series that have gaps by nature: a gap, not a line across."""
        for p in self.plots.values():
            for c in p.curves:
                finite = gaps or c.series.has_gaps
                c.item.opts["connect"] = "finite" if finite else "all"
                c.item.opts["skipFiniteCheck"] = not finite
        self._dirty = True

    def set_rates_tooltip(self, text: str) -> None:
        """How the rate plot's figures were obtained (a monitored source's derivation)."""
        self.plots["throughput"].plot.setToolTip(text)

    def set_smoothing(self, seconds: float) -> None:
        """Average every rate and percentage over `seconds` (0: the raw frames)."""
        self.smoothing = seconds
        text = next((t for t, v in SMOOTHING if v == seconds), f"{seconds:g} s")
        for p in self.plots.values():
            p.set_smoothing("" if seconds <= 0 else text)
        self._dirty = True

    def set_follow(self, follow: bool) -> None:
        self.follow = follow
        self._x_end = None
        self._dirty = True
        self.follow_changed.emit(follow)

    def set_running_mean(self, shown: bool) -> None:
        """Draw (or not) the running means since the segment's start on every plot."""
        self.running_shown = shown
        for p in self.plots.values():
            p.show_running_in_legend(shown)
        self._dirty = True

    def set_running_since(self, t: float) -> None:
        """Where the running means start: the current segment's measured start."""
        if t != self.running_since:
            self.running_since = t
            self._dirty = True

    def name_offered(self, process: str) -> None:
        """Name the rate plot's offered line for the arrival process in force."""
        self.plots["throughput"].name_offered(process)

    def set_reference_shown(self, shown: bool) -> None:
        self.reference_shown = shown
        for p in self.plots.values():
            p.show_reference_in_legend(shown)
        self._dirty = True

    def set_ghosts(self, pins: list[tuple[str, QColor, dict[str, NDArray[np.float64]]]]
                   ) -> None:
        """Draw the pinned runs (name, color, their columns) on every plot, muted."""
        for key, p in self.plots.items():
            ghosts = []
            for name, color, columns in pins:
                x = columns["t"]
                for column, factor, right in GHOSTS.get(key, ()):
                    xs, ys = decimate(x, columns[column] * factor, MAX_DRAWN_POINTS)
                    series = Series(column, name, color.name(), has_gaps=True, step=right)
                    ghosts.append(_Ghost(series, color, xs, ys, right))
            p.set_ghosts(ghosts)
        self._dirty = True

    def set_objective(self, column: str | None, limit: float,
                      overall: dict[str, float] | None = None) -> None:
        """The SLO on the wait plot: a line at `limit`, frames whose `column` breaks it
        shaded (None: a mean-wait SLO, drawn but with no per-frame test), and the run's
        overall percentiles (`overall`: wait_p95, wait_p99) as lines beside the curves."""
        self._objective = (column, limit, overall)
        p = self.wait_plot
        c = self.colors
        band, slo_line = p.slo_band, p.slo_line
        if band is None or slo_line is None:
            band = make_curve(Series("slo", "breaks the SLO", SLO_COLOR, band=True))
            band.setZValue(-10)
            p.plot.addItem(band, ignoreBounds=True)
            slo_line = pg.InfiniteLine(angle=0, movable=False)
            slo_line.setZValue(15)
            p.plot.addItem(slo_line, ignoreBounds=True)
            p.slo_band, p.slo_line = band, slo_line
        shade = QColor(c.series(SLO_COLOR))
        shade.setAlphaF(0.10 if not c.dark else 0.2)
        band.setBrush(pg.mkBrush(shade))
        band.setPen(pg.mkPen(None))
        p.slo = (column, limit) if column else None
        line_color = c.series(SLO_COLOR)
        slo_line.setPen(pg.mkPen(line_color, width=2))
        slo_line.setPos(limit)
        slo_line.setToolTip(f"SLO: {limit:g} s")
        overlays = [(Series("slo", f"SLO {limit:g} s", SLO_COLOR), line_color)]
        for col, color in OVERALL_COLORS.items():
            value = (overall or {}).get(col, math.nan)
            line = p.overall_lines.get(col)
            if line is None:
                line = pg.InfiniteLine(angle=0, movable=False)
                line.setZValue(14)
                p.plot.addItem(line, ignoreBounds=True)
                p.overall_lines[col] = line
            qc = c.series(color)
            line.setPen(pg.mkPen(qc, width=1, style=Qt.PenStyle.DashDotLine))
            line.setVisible(math.isfinite(value))
            if math.isfinite(value):
                line.setPos(value)
                name = f"run {col[5:]} {value:.3g} s"
                line.setToolTip(f"The whole run's {col[5:]} (after the warm-up): {value:.4g} s")
                overlays.append((Series(col, name, color, dashed=True), qc))
        p.overlays = overlays
        p.floor = max(limit, *(v for v in (overall or {}).values() if math.isfinite(v)),
                      0.0) * 1.05
        p._show_legend()
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
        began = self.clock()
        if not force and began < self._next_redraw:
            return False
        self._dirty = False
        try:
            return self._redraw()
        finally:
            self.draw_cost += self.clock() - began
            self._schedule_next()

    @property
    def next_redraw_at(self) -> float:
        """Clock time before which a redraw waits (see `redraw`)."""
        return self._next_redraw

    def add_paint_cost(self, seconds: float) -> None:
        self.draw_cost += seconds

    def _schedule_next(self) -> None:
        """Space redraws so that drawing (set-up and paint) stays within DRAW_SHARE."""
        cost, self.draw_cost = self.draw_cost, 0.0
        self._cost = 0.7 * self._cost + 0.3 * cost if self._cost else cost
        self._next_redraw = self.clock() + self._cost * (1.0 / DRAW_SHARE - 1.0)

    def _redraw(self) -> bool:
        columns = self._columns()
        x = columns["t"]
        rows = smoothing_rows(x, self.smoothing)
        for p in self.plots.values():
            if p.plot.getViewWidget() is not None and p.plot.getViewWidget().isVisible():
                # a hidden tab waits its turn
                p.set_data(x, columns, self.reference_shown, rows, self.running_shown)
        if self.follow and (x.size or self._x_end is None):
            self._setting_range = True
            try:
                last = float(x[-1]) if x.size else 0.0
                if self.span is not None:
                    # the view advances in steps of 1/20 of the window, not at every redraw:
                    # the time axis and the curves' bounds are then recomputed 20 times a
                    # window rather than 30 times a second. A young run is not a sliver at
                    # the left: the view grows with it until it is as wide as the window.
                    step = self.span / 20.0
                    end = max(step, math.ceil(last / step) * step)
                    if end == last and x.size:
                        end += step
                    if self._x_end != end:
                        self._x_end = end
                        self._first.setXRange(max(0.0, end - self.span), end, padding=0)
                else:
                    # the whole run from 0 to a round time past its end, moved in steps too
                    last = max(last, 1.0)
                    step = 10.0 ** math.floor(math.log10(last)) / 2.0
                    end = math.ceil(last / step) * step
                    if end == last:
                        end += step
                    if self._x_end != end:
                        self._x_end = end
                        self._first.setXRange(0.0, end, padding=0)
            finally:
                self._setting_range = False
        for p in self.plots.values():
            p.layout_labels()
        self.redraws += 1
        return True

    def _columns(self) -> dict[str, NDArray[np.float64]]:
        """The rows to draw: the rolling window's, the part of the run panned or zoomed to,
        or the whole run folded (exact until it holds more frames than it has rows), and
        the running means when they are shown."""
        # + what backs a share, and whether callers time out
        names = {"t", "throughput", "retry_rate", "dead_letters", CALLERS_COLUMN}
        for p in self.plots.values():
            names |= {c.series.column for c in p.curves if c.series.column not in RUNNING}
            if p.band is not None:
                names.add(p.band.series.column)
        columns = self._history_columns(names)
        if self.running_shown:
            columns.update(self._running(columns["t"]))
        return columns

    def _running(self, x: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        """The running means at the rows drawn (`core.segments.running_means`, over history
        reaching back to their start; interpolated where the drawn rows are folded ones)."""
        since = self.running_since
        t, means = running_means(self.history.reaching(since), since)
        if t.size == 0:
            return {name: np.full(x.shape, np.nan) for name in RUNNING}
        return {name: np.interp(x, t, y, left=np.nan, right=np.nan)
                for name, y in means.items()}

    def _history_columns(self, names: set[str]) -> dict[str, NDArray[np.float64]]:
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


def _axes(spec: PlotSpec) -> dict[str, pg.AxisItem]:
    """The plot's axes: clock time at the bottom, few round ticks on the sides (whole
    numbers where they count tasks or workers)."""
    axes: dict[str, pg.AxisItem] = {"bottom": TimeAxis("bottom"),
                                    "left": ValueAxis("left", spec.counts)}
    if spec.right_series:
        axes["right"] = ValueAxis("right", spec.right_counts)
    return axes
