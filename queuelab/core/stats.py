"""Bounded-memory statistics for runs of any length.

A simulated hour at 500k tasks/s is far too many waits to keep, so the whole-run numbers come
from two fixed-size summaries instead of a list:

* `LogHistogram` — quantiles within a stated *relative* error (the DDSketch bucketing): a wait
  of 2 ms and one of 20 min are both reported to within 0.5 %, with a few thousand counters.
* `BatchMeans` — a mean and its 95 % confidence half-width by the method of batch means. Waits
  of successive tasks are strongly correlated, so the naive `s/√n` would be far too narrow;
  means of long consecutive batches are nearly independent, and a bounded number of them is
  kept by merging neighbours (doubling the batch size) whenever the buffer fills.

Quantiles everywhere in QueueLab follow one definition, the linear interpolation between order
statistics (`numpy.quantile`'s default, `statistics.quantiles(method="inclusive")`), so an
interval's exact percentiles and the whole run's estimated ones mean the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

NAN = float("nan")

# Student-t 0.975 quantiles for 1..30 degrees of freedom (standard tables, 4 decimals).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054


def t975(dof: int) -> float:
    """Student-t 0.975 quantile: the factor of a two-sided 95 % interval with `dof` degrees.

    A table up to 30, then the Cornish–Fisher expansion in 1/dof (error < 1e-5 beyond 30).
    """
    if dof < 1:
        raise ValueError(f"dof: must be >= 1 ({dof})")
    if dof <= len(_T975):
        return _T975[dof - 1]
    z, v = _Z975, float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


def sorted_quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of already sorted values, interpolating linearly; NaN when empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q: must be within [0, 1] ({q})")
    n = len(values)
    if n == 0:
        return NAN
    rank = q * (n - 1)
    lo = int(rank)
    if lo >= n - 1:
        return values[n - 1]
    frac = rank - lo
    return values[lo] + (values[lo + 1] - values[lo]) * frac


class LogHistogram:
    """Counts by logarithmic bucket: quantiles within `relative_error` of the sample quantile.

    Bucket i holds (γ^(i-1), γ^i] with γ = (1+α)/(1-α); reporting 2γ^i/(γ+1) for any value in
    it is off by at most α relatively. Values below `min_value` (and zeros) share one zero
    bucket and are reported as the smallest value seen, so their error is absolute, under
    `min_value`. The counts are one NumPy array spanning the lowest to the highest bucket
    seen: at most ln(max/min_value)/ln γ counters - about 2,800 (22 KB) for 1 µs … 11 days at
    the default α = 0.5 %, whatever the count - and a batch of values is counted by
    `bincount` and one array addition, with no Python loop over values or buckets.
    """

    __slots__ = (
        "_base",
        "_counts",
        "_gamma",
        "_inv_log_gamma",
        "_max",
        "_min",
        "_min_value",
        "_n",
        "_relative_error",
        "_sum",
        "_zeros",
    )

    def __init__(self, relative_error: float = 0.005, min_value: float = 1e-6) -> None:
        if not 0.0 < relative_error < 1.0:
            raise ValueError(f"relative_error: must be within (0, 1) ({relative_error})")
        if not min_value > 0.0:
            raise ValueError(f"min_value: must be > 0 ({min_value})")
        self._relative_error = relative_error
        self._min_value = min_value
        self._gamma = (1.0 + relative_error) / (1.0 - relative_error)
        self._inv_log_gamma = 1.0 / math.log(self._gamma)
        self._counts = np.zeros(0, dtype=np.int64)  # _counts[k] counts bucket _base + k
        self._base = 0
        self._zeros = 0
        self._n = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    @property
    def relative_error(self) -> float:
        return self._relative_error

    @property
    def min_value(self) -> float:
        return self._min_value

    @property
    def count(self) -> int:
        return self._n

    @property
    def zeros(self) -> int:
        """How many values fell below `min_value` (the zero bucket)."""
        return self._zeros

    @property
    def buckets(self) -> int:
        """Occupied buckets besides the zero bucket."""
        return int(np.count_nonzero(self._counts))

    @property
    def mean(self) -> float:
        """The mean: batches are summed pairwise (NumPy), within 1e-15 relative; NaN if empty."""
        return self._sum / self._n if self._n else NAN

    @property
    def max(self) -> float:
        """Exact maximum; NaN when empty."""
        return self._max if self._n else NAN

    @property
    def min(self) -> float:
        """Exact minimum; NaN when empty."""
        return self._min if self._n else NAN

    def add(self, x: float) -> None:
        """Count one value (a negative, NaN or infinite one raises ValueError)."""
        self.extend([x])

    def extend(self, values: Iterable[float]) -> None:
        """Count many values at C speed (the recorder's per-frame flush); all or nothing.

        Raises ValueError, counting none of them, if any value is negative, NaN or infinite.
        """
        vals = values if isinstance(values, list) else list(values)
        if not vals:
            return
        arr = np.fromiter(vals, dtype=np.float64, count=len(vals))  # 3x np.asarray's speed
        lo, hi, total = float(arr.min()), float(arr.max()), float(arr.sum())
        if not (lo >= 0.0 and math.isfinite(total)):  # NaN and inf reach the sum
            bad = lo if lo < 0.0 else total
            raise ValueError(f"LogHistogram takes finite values >= 0 (got {bad})")
        big = arr[arr >= self._min_value] if lo < self._min_value else arr
        self._zeros += len(vals) - len(big)
        if len(big):
            self._count(np.ceil(np.log(big) * self._inv_log_gamma).astype(np.int64))
        self._n += len(vals)
        self._sum += total
        self._max = max(self._max, hi)
        self._min = min(self._min, lo)

    def merge(self, other: LogHistogram) -> None:
        """Add another histogram's counts (same `relative_error` and `min_value` required)."""
        if (other._relative_error, other._min_value) != (self._relative_error, self._min_value):
            raise ValueError("merge: histograms differ in relative_error or min_value")
        if len(other._counts):
            self._cover(other._base, other._base + len(other._counts) - 1)
            start = other._base - self._base
            self._counts[start : start + len(other._counts)] += other._counts
        self._zeros += other._zeros
        self._n += other._n
        self._sum += other._sum
        self._max = max(self._max, other._max)
        self._min = min(self._min, other._min)

    def quantile(self, q: float) -> float:
        """Estimated q-quantile (linear interpolation between order statistics); NaN if empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> tuple[float, ...]:
        """Several quantiles in one pass over the buckets."""
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"q: must be within [0, 1] ({q})")
        n = self._n
        if n == 0:
            return tuple(NAN for _ in qs)
        # The order-statistic ranks each quantile interpolates between.
        wanted: set[int] = set()
        plan: list[tuple[int, int, float]] = []
        for q in qs:
            rank = q * (n - 1)
            lo = min(int(rank), n - 1)
            hi = min(lo + 1, n - 1)
            plan.append((lo, hi, rank - lo))
            wanted.add(lo)
            wanted.add(hi)
        at = self._values_at_ranks(sorted(wanted))
        return tuple(at[lo] + (at[hi] - at[lo]) * frac for lo, hi, frac in plan)

    def _count(self, index: np.ndarray) -> None:
        """Add one to the bucket of each index (an int64 array, not empty)."""
        first, last = int(index.min()), int(index.max())
        self._cover(first, last)
        start = first - self._base
        self._counts[start : start + last - first + 1] += np.bincount(index - first)

    def _cover(self, first: int, last: int) -> None:
        """Grow the counts to span buckets first..last, with room to spare on the growing side."""
        base, size = self._base, len(self._counts)
        if size and base <= first and last < base + size:
            return
        if size:
            spare = max(64, size // 2)
            new_base = min(base, first - (spare if first < base else 0))
            new_end = max(base + size, last + 1 + (spare if last >= base + size else 0))
        else:
            new_base, new_end = first, last + 1
        grown = np.zeros(new_end - new_base, dtype=np.int64)
        if size:
            grown[base - new_base : base - new_base + size] = self._counts
        self._counts, self._base = grown, new_base

    def _values_at_ranks(self, ranks: list[int]) -> dict[int, float]:
        """Estimate each order statistic (0-based, ascending ranks), clamped to [min, max].

        Clamping can only move an estimate toward the true value, which lies within [min, max];
        the extreme ranks are the exact min and max.
        """
        out: dict[int, float] = {}
        lo_bound, hi_bound = self._min, self._max
        scale = 2.0 / (self._gamma + 1.0)
        zeros = self._zeros
        # below min_value: reported as the smallest value seen
        above = [r for r in ranks if r >= zeros]
        for r in ranks[: len(ranks) - len(above)]:
            out[r] = lo_bound
        if above:
            # the bucket holding rank r is the first whose running count exceeds r - zeros
            running = np.cumsum(self._counts)
            where = np.searchsorted(running, np.asarray(above, dtype=np.int64) - zeros,
                                    side="right")
            for r, k in zip(above, where.tolist(), strict=True):
                out[r] = min(max(scale * self._gamma ** (self._base + k), lo_bound), hi_bound)
        if ranks[0] == 0:
            out[0] = lo_bound
        if ranks[-1] == self._n - 1:
            out[ranks[-1]] = hi_bound
        return out


class BatchMeans:
    """Mean and 95 % confidence half-width of a correlated series, in bounded memory.

    Values are grouped into consecutive batches of `batch_size`; when `max_batches` complete
    batches exist, neighbours are averaged pairwise and the batch size doubles. So between
    max_batches/2 and max_batches batch means are kept however long the series, and batches
    grow with the run until they are long enough to be nearly independent. The half-width is
    t(k-1)·s/√k over the k complete batch means; the last, incomplete batch still counts in
    the mean.
    """

    __slots__ = ("_batch_size", "_cur_n", "_cur_sum", "_max_batches", "_means", "_n", "_sum")

    MIN_BATCHES_FOR_CI = 10

    def __init__(self, max_batches: int = 64) -> None:
        if max_batches < 2 * self.MIN_BATCHES_FOR_CI or max_batches % 2:
            raise ValueError(
                f"max_batches: must be even and >= {2 * self.MIN_BATCHES_FOR_CI} ({max_batches})"
            )
        self._max_batches = max_batches
        self._batch_size = 1
        self._means: list[float] = []
        self._cur_sum = 0.0
        self._cur_n = 0
        self._n = 0
        self._sum = 0.0

    @property
    def count(self) -> int:
        return self._n

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def batches(self) -> tuple[float, ...]:
        """The complete batch means, oldest first."""
        return tuple(self._means)

    @property
    def mean(self) -> float:
        """Exact mean of every value added; NaN when empty."""
        return self._sum / self._n if self._n else NAN

    def add(self, x: float) -> None:
        self._n += 1
        self._sum += x
        self._cur_sum += x
        self._cur_n += 1
        if self._cur_n == self._batch_size:
            self._close_batch()

    def extend(self, values: Iterable[float]) -> None:
        """Add many values; the recorder's per-frame flush, so whole batches are summed at once."""
        if not isinstance(values, Sequence):
            values = list(values)
        i, n = 0, len(values)
        while i < n:
            take = min(self._batch_size - self._cur_n, n - i)
            chunk = math.fsum(values[i : i + take]) if take > 1 else values[i]
            self._n += take
            self._sum += chunk
            self._cur_sum += chunk
            self._cur_n += take
            i += take
            if self._cur_n == self._batch_size:
                self._close_batch()

    def _close_batch(self) -> None:
        means = self._means
        means.append(self._cur_sum / self._batch_size)
        self._cur_sum = 0.0
        self._cur_n = 0
        if len(means) == self._max_batches:
            # Equal-sized neighbours: the mean of their means is the mean of the merged batch.
            self._means = [(means[j] + means[j + 1]) * 0.5 for j in range(0, len(means), 2)]
            self._batch_size *= 2

    def ci95_halfwidth(self) -> float:
        """Half-width of the 95 % interval of the mean; NaN with fewer than 10 batches."""
        k = len(self._means)
        if k < self.MIN_BATCHES_FOR_CI:
            return NAN
        m = math.fsum(self._means) / k
        var = math.fsum((x - m) ** 2 for x in self._means) / (k - 1)
        return t975(k - 1) * math.sqrt(var / k)
