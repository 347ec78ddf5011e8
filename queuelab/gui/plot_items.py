"""The pieces the plots are made of: a clock-time axis, curves that know their bounds, and
the numpy helpers that keep what a curve is handed small.

pyqtgraph's PlotDataItem windows, decimates and searches its data for bounds at every
update; at 30 redraws a second over a dozen curves that costs more than the drawing. These
bare curves are handed an already windowed and peak-decimated series and told its bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt

if TYPE_CHECKING:
    from numpy.typing import NDArray

EMPTY = np.empty(0)


def format_clock(seconds: float) -> str:
    """Scenario seconds as h:mm:ss (m:ss under an hour)."""
    if not math.isfinite(seconds):
        return "–"
    neg = seconds < 0
    s = round(abs(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    text = f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
    return f"-{text}" if neg else text


def nice_ceiling(v: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above v; 1 for
    nothing to show."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    base = 10.0 ** math.floor(math.log10(v))
    for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if v <= m * base * (1 + 1e-9):
            return m * base
    return 10.0 * base


def steps_only(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """A piecewise-constant series reduced to the points where it changes (and the last).

    A reference line is constant between two parameter changes; drawing it dashed through
    thousands of identical points costs far more than drawing it through a few.
    """
    if y.size < 3:
        return x, y
    same = (y[1:] == y[:-1]) | (np.isnan(y[1:]) & np.isnan(y[:-1]))
    keep = np.ones(y.size, dtype=bool)
    keep[1:-1] = ~(same[:-1] & same[1:])  # drop a point equal to both neighbours
    return x[keep], y[keep]


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400)


class TimeAxis(pg.AxisItem):
    """Bottom axis reading scenario seconds as clock time, ticked at round seconds, minutes
    and hours: one format (m:ss or h:mm:ss) whatever the span, never fractions of a second."""

    def tickSpacing(self, minVal: float, maxVal: float,
                    size: float) -> list[tuple[float, float]]:
        span = maxVal - minVal
        target = span / max(2.0, size / 90.0)  # about one labelled tick per 90 pixels
        if not span > 0:
            return [(1.0, 0.0)]
        major = next((float(s) for s in _TIME_STEPS if s >= target), None)
        if major is None:
            major = 86400.0 * math.ceil(target / 86400.0)
        minor = major / 2.0 if major >= 2 else major
        return [(major, 0.0), (minor, 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_clock(v) for v in values]


class ValueAxis(pg.AxisItem):
    """A y axis with few, round ticks: one label per ~26 pixels at most, so a short plot
    (a 1024×700 window) stays legible; with `counts`, whole numbers only."""

    def __init__(self, orientation: str, counts: bool = False) -> None:
        super().__init__(orientation)
        self.counts = counts

    def tickSpacing(self, minVal: float, maxVal: float,
                    size: float) -> list[tuple[float, float]]:
        span = maxVal - minVal
        if not span > 0 or not math.isfinite(span):
            return [(1.0, 0.0)]
        raw = span / max(2, int(size // 26))
        base = 10.0 ** math.floor(math.log10(raw))
        steps = (1.0, 2.0, 5.0, 10.0) if self.counts else (1.0, 2.0, 2.5, 5.0, 10.0)
        step = next(m * base for m in steps if m * base >= raw * (1 - 1e-9))
        if self.counts:
            step = max(1.0, float(round(step)))
        return [(step, 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.counts or spacing >= 1:
            return [f"{round(v):,}" for v in values]
        return super().tickStrings(values, scale, spacing)  # type: ignore[no-any-return]


def trailing_mean(y: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """The mean of each value and the k-1 before it (fewer at the start); NaN rows skipped."""
    if k <= 1 or y.size == 0:
        return y
    ok = np.isfinite(y)
    s = np.concatenate(([0.0], np.cumsum(np.where(ok, y, 0.0))))
    n = np.concatenate(([0], np.cumsum(ok)))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - k, 0)
    count = n[idx] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (s[idx] - s[lo]) / count, np.nan)


def trailing_sum(y: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """The sum of each value and the k-1 before it (NaN counts as 0)."""
    if k <= 1 or y.size == 0:
        return y
    s = np.concatenate(([0.0], np.cumsum(np.nan_to_num(y))))
    idx = np.arange(1, y.size + 1)
    return s[idx] - s[np.maximum(idx - k, 0)]


@dataclass(frozen=True)
class Series:
    """One curve: which history column, how it is drawn, and a factor (1 → 100 %)."""

    column: str
    name: str
    color: str
    factor: float = 1.0
    dashed: bool = False
    step: bool = False
    has_gaps: bool = False  # NaN possible: the finite check cannot be skipped
    smooth: bool = False  # a rate or share: averaged over the smoothing window when it is on
    band: bool = False  # a 0/1 state drawn as a shaded band the plot's full height
    callers: bool = False  # a callers' figure (`[clients]`): only once callers time out
    per_second: bool = False  # the column is a running count: drawn as its growth per second
    bold: bool = False  # two pixels wide: a steady curve read against the noisy frames


def pen_for(s: Series, color: Any = None) -> Any:
    """A one-pixel cosmetic pen: wider lines cost Qt's raster engine three times as much.
    `color` replaces the series' own (the plots adapt it to a dark background)."""
    style = Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine
    return pg.mkPen(s.color if color is None else color, width=2 if s.bold else 1, style=style)


class FastCurve(pg.PlotCurveItem):
    """A PlotCurveItem told its data bounds instead of searching the data for them.

    A bare PlotCurveItem's setData costs a tenth of PlotDataItem's (the windowing and peak
    decimation PlotDataItem would do are done once, in `decimate`), and its bounds, which the
    scene asks for at every paint after new data, come from one fmin/fmax pass here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: tuple[tuple[float | None, float | None], ...] | None = None

    def show_data(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
        """Draw y over x; returns the largest finite y (0 when there is none)."""
        lo = hi = None
        if y.size:
            a, b = float(np.fmin.reduce(y)), float(np.fmax.reduce(y))
            if not math.isnan(a):
                lo, hi = a, b
        xb = (float(x[0]), float(x[-1])) if x.size else (None, None)
        self._known = (xb, (lo, hi))
        self.setData(x=x, y=y)
        return hi or 0.0

    def boundingRect(self) -> QRectF:
        """The data's extent padded by a hundredth of the view, without pyqtgraph's per-paint
        pixel-size arithmetic (it runs for every curve at every paint once the view moves)."""
        if self._known is None:
            return super().boundingRect()  # type: ignore[no-any-return]
        (x0, x1), (y0, y1) = self._known
        vb = self.getViewBox()
        if x0 is None or x1 is None or y0 is None or y1 is None or vb is None:
            return QRectF()
        (vx0, vx1), (vy0, vy1) = vb.viewRange()
        px = (vx1 - vx0) * 0.01 or 1.0
        py = (vy1 - vy0) * 0.01 or 1.0
        return QRectF(x0 - px, y0 - py, (x1 - x0) + 2 * px, (y1 - y0) + 2 * py)

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[Any, Any]:
        if self._known is not None and frac >= 1.0 and orthoRange is None:
            return self._known[ax]
        return super().dataBounds(ax, frac, orthoRange)  # type: ignore[no-any-return]


def make_curve(series: Series) -> FastCurve:
    if series.band:  # filled down to 0, no outline: a shaded stretch of time
        return FastCurve(pen=None, name=series.name, fillLevel=0.0, skipFiniteCheck=True)
    return FastCurve(
        pen=pen_for(series),
        name=series.name,
        stepMode="left" if series.step else None,
        skipFiniteCheck=not series.has_gaps,
        connect="finite" if series.has_gaps else "all",
    )


def decimate(x: NDArray[np.float64], y: NDArray[np.float64], max_points: int) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """At most ~max_points points, keeping each bucket's minimum and maximum (peaks survive)."""
    n = y.size
    if n <= max_points:
        return x, y
    k = -(-n // (max_points // 2))  # frames per bucket
    m = (n // k) * k
    yy = y[n - m:].reshape(-1, k)  # drop the oldest remainder, keep the newest exact
    xx = x[n - m::k]
    lo = np.fmin.reduce(yy, axis=1)  # fmin/fmax: NaN only where the whole bucket is NaN
    hi = np.fmax.reduce(yy, axis=1)
    return np.repeat(xx, 2), np.column_stack((lo, hi)).ravel()
