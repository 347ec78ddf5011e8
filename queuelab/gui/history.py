"""The frames a window keeps, in fixed-size numpy buffers, so a 24-hour run costs what an hour does.

`FrameHistory` holds the newest frames at full resolution (a ring of `capacity` rows, one
contiguous array per column) and, beside it, `CoarseHistory`: the whole run folded into at
most `coarse_capacity` rows by merging neighbours (levels keep their maximum so a spike in
the queue stays visible, rates their mean). The plots draw the ring while it still covers the
run and the coarse copy once it no longer does; the CSV export reads the exact ring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from queuelab.core.metrics import FRAME_COLUMNS, INT_COLUMNS, MetricsFrame

if TYPE_CHECKING:
    from numpy.typing import NDArray

REFERENCE_COLUMNS: tuple[str, ...] = ("ref_lq", "ref_rho", "ref_wq")
"""Theory in force at each frame: Erlang C's Lq, ρ and Wq, or an unstable queue's growth
(NaN when the scenario is not M/M/c)."""

OFFERED_COLUMN = "offered"
"""The load the arrival knobs in force offered at each frame's time, λ(t) in tasks/s
(`core.segments.offered_in_force`); NaN where the arrivals are not the scenario's (a
monitored queue). Folded as a mean, like the arrivals measured."""

COLUMNS: tuple[str, ...] = FRAME_COLUMNS + REFERENCE_COLUMNS + (OFFERED_COLUMN,)

# How two neighbouring rows fold into one in the whole-run copy. Levels and tail percentiles
# keep the maximum (a one-frame spike must not vanish from the overview), cumulative counters
# and the time keep the later row, rates and ratios the mean.
_MAX = frozenset({"depth", "in_flight", "workers", "busy", "dead_letters", "retrying",
                  "wait_p50", "wait_p95", "wait_p99", "breaker_open"})
_LAST = frozenset({"t", "created", "done", "carried_over", "by_others", "rejected",
                   "first_starts", "waited", "wait_sum", "busy_area", "worker_area",
                   "system_area", "departed", "sojourn_sum", "abandoned", "client_timeouts",
                   "client_retries", "gave_up", "wasted_work", *REFERENCE_COLUMNS})


def _fold_kinds() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    idx = {name: i for i, name in enumerate(COLUMNS)}
    mx = [idx[c] for c in COLUMNS if c in _MAX]
    last = [idx[c] for c in COLUMNS if c in _LAST]
    mean = [idx[c] for c in COLUMNS if c not in _MAX and c not in _LAST]
    return np.array(mx), np.array(last), np.array(mean)


_MAX_IDX, _LAST_IDX, _MEAN_IDX = _fold_kinds()


@dataclass(frozen=True, slots=True)
class Growth:
    """An unstable queue's theory line: from `depth` tasks at time `t0` it grows by `rate`
    tasks per second (λ − cμ), and a new arrival waits what is ahead of it over cμ."""

    t0: float
    depth: float
    rate: float  # λ − cμ, > 0
    capacity: float  # cμ, tasks per second the pool serves at most

    def lq(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.depth + self.rate * np.maximum(t - self.t0, 0.0)


def frames_to_block(
    frames: Sequence[MetricsFrame], reference: tuple[float, float, float],
    growth: Growth | None = None, offered: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Frames as a (columns × n) float block, reference values repeated on every row (or,
    for an unstable queue, its growth line), and the offered λ of each frame (NaN: none)."""
    block = np.empty((len(COLUMNS), len(frames)), dtype=np.float64)
    n_frame = len(FRAME_COLUMNS)
    n_ref = n_frame + len(REFERENCE_COLUMNS)
    block[:n_frame] = np.array(frames, dtype=np.float64).T  # frames are tuples
    block[n_frame:n_ref] = np.array(reference, dtype=np.float64)[:, None]
    if growth is not None:
        lq = growth.lq(block[0])
        block[n_frame:n_ref] = np.vstack((lq, np.ones_like(lq), lq / growth.capacity))
    block[n_ref] = np.nan if offered is None else offered
    return block


class CoarseHistory:
    """The whole run in at most `capacity` rows: each row folds `group` frames together."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity: must be an even number >= 2 ({capacity})")
        self._data = np.full((len(COLUMNS), capacity), np.nan)
        self._n = 0
        self.group = 1  # frames per row; doubles each time the buffer fills
        self._pending: NDArray[np.float64] | None = None  # a partial group not yet a row
        self._pending_n = 0

    def __len__(self) -> int:
        return self._n

    def clear(self) -> None:
        self._data[:] = np.nan
        self._n = 0
        self.group = 1
        self._pending = None
        self._pending_n = 0

    def extend(self, block: NDArray[np.float64]) -> None:
        for i in range(block.shape[1]):
            self._add(block[:, i])

    def _add(self, row: NDArray[np.float64]) -> None:
        if self._pending is None:
            self._pending = row.copy()
            self._pending_n = 1
        else:
            self._pending = _fold(self._pending, row, self._pending_n, 1)
            self._pending_n += 1
        if self._pending_n < self.group:
            return
        if self._n == self._data.shape[1]:
            self._halve()
            if self._pending_n < self.group:  # rows now hold twice as many frames
                return
        self._data[:, self._n] = self._pending
        self._n += 1
        self._pending = None
        self._pending_n = 0

    def _halve(self) -> None:
        """Fold pairs of rows: half the rows, twice the frames per row."""
        d = self._data
        a, b = d[:, 0::2], d[:, 1::2]
        half = d.shape[1] // 2
        d[:, :half] = _fold(a, b, 1, 1)
        d[:, half:] = np.nan
        self._n = half
        self.group *= 2

    def column(self, name: str) -> NDArray[np.float64]:
        """The folded rows of one column, oldest first (plus the partial group, if any)."""
        i = COLUMNS.index(name)
        if self._pending is None:
            return self._data[i, : self._n]
        return np.append(self._data[i, : self._n], self._pending[i])


def _fold(a: NDArray[np.float64], b: NDArray[np.float64], wa: int, wb: int) -> NDArray[np.float64]:
    """Merge two rows (or column blocks) standing for wa and wb frames."""
    out = np.empty_like(a)
    out[_LAST_IDX] = b[_LAST_IDX]
    out[_MAX_IDX] = np.fmax(a[_MAX_IDX], b[_MAX_IDX])  # fmax: a NaN side yields the other
    am, bm = a[_MEAN_IDX], b[_MEAN_IDX]
    both = (am * wa + bm * wb) / (wa + wb)
    out[_MEAN_IDX] = np.where(np.isnan(am), bm, np.where(np.isnan(bm), am, both))
    return out


class _Columns(Mapping[str, "NDArray[np.float64]"]):
    """Columns read on demand by name (a window needs a handful of the thirty)."""

    def __init__(self, read: Callable[[str], NDArray[np.float64]]) -> None:
        self._read = read

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        return self._read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(COLUMNS)

    def __len__(self) -> int:
        return len(COLUMNS)


class FrameHistory:
    """The newest `capacity` frames exactly, and the whole run folded (see module docstring).

    The ring is filled with NaN at construction, so its memory is taken once up front and the
    resident size does not creep while a long run fills it.
    """

    def __init__(self, capacity: int = 86_400, coarse_capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: must be >= 1 ({capacity})")
        self.capacity = capacity
        self._data = np.full((len(COLUMNS), capacity), np.nan)
        self._end = 0  # index after the newest row
        self._n = 0  # rows held (<= capacity)
        self.total = 0  # frames ever appended since the last clear
        self.coarse = CoarseHistory(coarse_capacity)
        self._index = {name: i for i, name in enumerate(COLUMNS)}

    def __len__(self) -> int:
        return self._n

    @property
    def complete(self) -> bool:
        """True while the ring still holds every frame of the run."""
        return self.total == self._n

    def clear(self) -> None:
        self._data[:] = np.nan
        self._end = self._n = self.total = 0
        self.coarse.clear()

    def append(
        self, frames: Sequence[MetricsFrame], reference: tuple[float, float, float] = (
            math.nan, math.nan, math.nan), growth: Growth | None = None,
        offered: NDArray[np.float64] | None = None,
    ) -> None:
        """Add frames (oldest first) with the theory reference in force when they were made:
        Erlang C's steady state, or the growth line of an unstable queue, and the load
        offered at each frame's time."""
        if not frames:
            return
        block = frames_to_block(frames, reference, growth, offered)
        self.coarse.extend(block)
        self.total += block.shape[1]
        if block.shape[1] > self.capacity:
            block = block[:, -self.capacity :]
        k = block.shape[1]
        first = min(k, self.capacity - self._end)
        self._data[:, self._end : self._end + first] = block[:, :first]
        if first < k:
            self._data[:, : k - first] = block[:, first:]
        self._end = (self._end + k) % self.capacity
        self._n = min(self.capacity, self._n + k)

    def last(self, name: str, n: int | None = None) -> NDArray[np.float64]:
        """The newest `n` (default all held) values of a column, oldest first.

        A view while the rows are contiguous in the ring, a copy once they wrap.
        """
        n = self._n if n is None else max(0, min(n, self._n))
        row = self._data[self._index[name]]
        start = self._end - n
        if start >= 0:
            return row[start : self._end]
        return np.concatenate((row[start:], row[: self._end]))

    def reaching(self, since: float) -> Mapping[str, NDArray[np.float64]]:
        """Columns that reach back to time `since`, for `core.segments.measure`: the ring,
        exact, while it does; else the whole-run copy, whose running totals fold exactly
        (they keep the later row), so a window's differences are still right."""
        ring = self.complete or (self._n > 0 and self.last("t", self._n)[0] <= since)
        return _Columns(self.last if ring else self.coarse.column)

    def latest(self, name: str) -> float:
        """The newest value of a column (NaN when empty)."""
        if not self._n:
            return math.nan
        return float(self._data[self._index[name], self._end - 1])

    def count_since(self, t: float) -> int:
        """How many held rows have t >= `t` (for a rolling window)."""
        ts = self.last("t")
        return int(ts.size - np.searchsorted(ts, t, side="left"))

    def rows(self) -> Iterable[tuple[float | int, ...]]:
        """The held frames in FRAME_COLUMNS order, with the frame's own types.

        A float64 holds every frame value exactly (the counts are far below 2**53), so these
        are the values the engine produced: integers as int, the rest as float (NaN kept).
        """
        cols = [self.last(name) for name in FRAME_COLUMNS]
        ints = [name in INT_COLUMNS for name in FRAME_COLUMNS]
        for i in range(self._n):
            yield tuple(
                int(col[i]) if is_int else float(col[i])
                for col, is_int in zip(cols, ints, strict=True)
            )
