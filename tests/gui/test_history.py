"""The window's frame buffers: exact ring, folded whole-run copy, bounded memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from queuelab.core.metrics import FRAME_COLUMNS, INT_COLUMNS, MetricsFrame
from queuelab.gui.history import CoarseHistory, FrameHistory, frames_to_block

NAN = math.nan


def frame(t: float, depth: int = 0, **kw: float) -> MetricsFrame:
    values: dict[str, float] = {c: 0 if c in INT_COLUMNS else 0.0 for c in FRAME_COLUMNS}
    values.update(t=t, depth=depth, utilization=0.5, arrival_rate=1.0, throughput=1.0,
                  error_rate=0.0, retry_rate=0.0, wait_p50=NAN, wait_p95=NAN, wait_p99=NAN,
                  mean_service=NAN)
    values.update(kw)
    return MetricsFrame(**values)  # type: ignore[arg-type]


def test_ring_keeps_the_newest_frames_exactly() -> None:
    h = FrameHistory(capacity=5, coarse_capacity=4)
    h.append([frame(float(i), depth=i) for i in range(1, 4)])
    assert len(h) == 3 and h.complete
    assert list(h.last("t")) == [1.0, 2.0, 3.0]
    h.append([frame(float(i), depth=i) for i in range(4, 9)])
    assert len(h) == 5 and h.total == 8 and not h.complete
    assert list(h.last("depth")) == [4, 5, 6, 7, 8]
    assert list(h.last("t", 2)) == [7.0, 8.0]
    assert h.latest("depth") == 8
    assert h.count_since(6.5) == 2
    h.append([frame(float(i)) for i in range(9, 30)])  # more than the capacity at once
    assert list(h.last("t")) == [25.0, 26.0, 27.0, 28.0, 29.0]


def test_rows_give_back_the_frames_with_their_types() -> None:
    frames = [frame(1.0, depth=3, wait_p50=0.25, created=10, done=7),
              frame(2.0, depth=1, created=12, done=11)]
    h = FrameHistory(capacity=10)
    h.append(frames)
    rows = list(h.rows())
    assert len(rows) == 2
    for row, f in zip(rows, frames, strict=True):
        for got, want in zip(row, f.as_row(), strict=True):
            assert type(got) is type(want)
            assert got == want or (math.isnan(got) and math.isnan(want))


def test_reference_columns_ride_along() -> None:
    h = FrameHistory(capacity=10)
    h.append([frame(1.0)], reference=(2.5, 0.8, 0.4))
    h.append([frame(2.0)])
    assert list(h.last("ref_lq")[:1]) == [2.5]
    assert math.isnan(h.latest("ref_lq"))


def test_coarse_copy_folds_pairs_and_keeps_peaks() -> None:
    c = CoarseHistory(capacity=4)
    frames = [frame(float(t), depth=(100 if t == 3 else 1), arrival_rate=float(t))
              for t in range(1, 9)]
    c.extend(frames_to_block(frames, (NAN, NAN, NAN)))
    # 8 frames into 4 rows: folded once, two frames per row
    assert c.group == 2 and len(c) == 4
    assert list(c.column("t")) == [2.0, 4.0, 6.0, 8.0]
    assert list(c.column("depth")) == [1.0, 100.0, 1.0, 1.0]  # the spike survives
    assert list(c.column("arrival_rate")) == [1.5, 3.5, 5.5, 7.5]  # rates average
    c.extend(frames_to_block([frame(9.0, arrival_rate=9.0)], (NAN, NAN, NAN)))
    assert list(c.column("t"))[-1] == 9.0  # a partial group is shown too


def test_nan_folds_to_the_other_side() -> None:
    c = CoarseHistory(capacity=2)
    frames = [frame(1.0, wait_p99=NAN, mean_service=NAN), frame(2.0, wait_p99=3.0,
                                                                 mean_service=0.5),
              frame(3.0), frame(4.0)]
    c.extend(frames_to_block(frames, (NAN, NAN, NAN)))
    assert c.column("wait_p99")[0] == 3.0
    assert c.column("mean_service")[0] == 0.5


def test_memory_is_fixed_whatever_the_run_length() -> None:
    h = FrameHistory(capacity=1000, coarse_capacity=64)
    before = (h._data.nbytes, h.coarse._data.nbytes)
    base = frame(0.0)
    for k in range(20):
        h.append([base._replace(t=float(k * 500 + i)) for i in range(500)])
    assert (h._data.nbytes, h.coarse._data.nbytes) == before
    assert len(h) == 1000 and len(h.coarse) <= 64 and h.total == 10_000
    assert h.coarse.column("t")[-1] == 9999.0


def test_capacity_must_be_sensible() -> None:
    with pytest.raises(ValueError):
        FrameHistory(capacity=0)
    with pytest.raises(ValueError):
        CoarseHistory(capacity=3)
    assert np.isnan(FrameHistory(capacity=3).latest("t"))
