"""MetricsRecorder: frame arithmetic on hand-computed event sequences, warm-up, bounded memory."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.metrics import FRAME_COLUMNS, MetricsFrame, MetricsRecorder, RunSummary
from queuelab.core.theory import erlang_c, wait_quantile


def close(r: MetricsRecorder, t: float, **state: int) -> MetricsFrame:
    base = dict(depth=0, in_flight=0, retrying=0, dead_letters=0, created=0, done=0)
    base.update(state)
    return r.close_frame(t, **base)


def test_frame_columns_follow_the_documented_order() -> None:
    assert FRAME_COLUMNS == (
        "t", "depth", "in_flight", "workers", "busy", "utilization", "arrival_rate",
        "throughput", "error_rate", "retry_rate", "dead_letters", "wait_p50", "wait_p95",
        "wait_p99", "retrying", "mean_service", "created", "done", "breaker_open",
        "carried_over", "by_others", "rejected", "abandoned", "goodput", "client_timeouts",
        "client_retries", "gave_up", "wasted_work", "first_starts", "waited", "wait_sum",
        "busy_area", "worker_area", "system_area", "departed", "sojourn_sum",
    )  # fmt: skip


def test_one_interval_by_hand() -> None:
    r = MetricsRecorder(sample_interval=10.0)
    r.workers_changed(0.0, 2)
    for t in (0.5, 1.0, 2.0, 3.0):
        r.arrived(t)
    r.started(1.0, 0.0)
    r.busy_changed(1.0, 1)
    r.started(2.0, 1.0)  # a worker frees up at 5 in this story; the level is what counts
    r.started(3.0, 3.0)
    r.busy_changed(3.0, 2)
    r.workers_changed(5.0, 4)  # mid-interval scale-up: 2 workers on [0,5), 4 on [5,10]
    r.finished(6.0, 3.0, ok=True)
    r.busy_changed(6.0, 1)
    r.finished(8.0, 2.0, ok=False)
    r.retried(8.0)
    r.started(8.5, None)  # the retry's attempt: not a wait
    r.started(9.0, 2.0)
    r.finished(9.0, 1.0, ok=True)
    r.dead_lettered(9.5)
    f = close(r, 10.0, depth=3, in_flight=1, retrying=1, dead_letters=1, created=4, done=2)

    assert (f.t, f.depth, f.in_flight, f.workers, f.busy) == (10.0, 3, 1, 4, 1)
    # busy worker-seconds 0·1 + 1·2 + 2·3 + 1·4 = 12 over worker-seconds 2·5 + 4·5 = 30
    assert f.utilization == pytest.approx(0.4)
    assert f.arrival_rate == pytest.approx(0.4)
    assert f.throughput == pytest.approx(0.2)
    assert f.error_rate == pytest.approx(1 / 3)
    assert f.retry_rate == pytest.approx(0.1)
    assert f.mean_service == pytest.approx(2.0)
    # waits sorted: 0, 1, 2, 3 -> linear interpolation between order statistics
    assert f.wait_p50 == pytest.approx(1.5)
    assert f.wait_p95 == pytest.approx(2.85)
    assert f.wait_p99 == pytest.approx(2.97)
    assert (f.retrying, f.dead_letters, f.created, f.done, f.breaker_open) == (1, 1, 4, 2, 0)
    assert f.as_row() == tuple(getattr(f, c) for c in FRAME_COLUMNS)
    # running totals: four first starts (waits 0, 1, 2, 3), three of them waited; busy and
    # worker seconds as above; two completions and one dead letter left; no time in system
    # reported by this (per-event) caller, so NaN rather than a flattering 0
    assert (f.first_starts, f.waited, f.wait_sum, f.departed) == (4, 3, 6.0, 3)
    assert (f.busy_area, f.worker_area) == (pytest.approx(12.0), pytest.approx(30.0))
    assert math.isnan(f.system_area) and math.isnan(f.sojourn_sum)

    # The next interval starts fresh; levels carry over.
    g = close(r, 20.0)
    assert g.utilization == pytest.approx(0.25)  # busy 1 of 4 workers throughout
    assert (g.arrival_rate, g.throughput, g.error_rate, g.retry_rate) == (0.0, 0.0, 0.0, 0.0)
    assert math.isnan(g.wait_p50) and math.isnan(g.wait_p95) and math.isnan(g.wait_p99)
    assert math.isnan(g.mean_service)
    assert (g.workers, g.busy) == (4, 1)


def test_no_workers_means_zero_utilization_and_breaker_flag() -> None:
    r = MetricsRecorder(1.0)
    f = close(r, 1.0)
    assert f.utilization == 0.0 and f.workers == 0
    r.workers_changed(1.0, 2)
    r.busy_changed(1.0, 1)
    assert r.close_frame(
        2.0, depth=0, in_flight=0, retrying=0, dead_letters=0, created=0, done=0,
        breaker_open=True,
    ).breaker_open == 1  # fmt: skip


def test_zero_length_frame_uses_the_instantaneous_ratio() -> None:
    r = MetricsRecorder(1.0)
    r.workers_changed(0.0, 4)
    r.busy_changed(0.0, 1)
    r.arrived(0.0)
    f = close(r, 0.0)
    assert f.utilization == pytest.approx(0.25)
    assert f.arrival_rate == 0.0  # no time elapsed: no rate


def test_late_event_integrates_nothing() -> None:
    r = MetricsRecorder(10.0)
    r.workers_changed(0.0, 1)
    r.busy_changed(5.0, 1)
    r.busy_changed(4.0, 0)  # a live event a hair late: counted, never integrated backwards
    f = close(r, 10.0)
    assert f.utilization == pytest.approx(0.0)
    assert f.busy == 0


def test_negative_wait_counts_as_zero() -> None:
    r = MetricsRecorder(1.0)
    r.started(0.5, -1e-6)
    r.started(0.5, 2.0)
    f = close(r, 1.0)
    assert f.wait_p50 == pytest.approx(1.0)
    s = r.summary()
    assert s.mean_wait == pytest.approx(1.0)
    assert s.wait_p50 == pytest.approx(1.0, rel=0.01)


@given(st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=60))
def test_frame_percentiles_are_exact(waits: list[float]) -> None:
    r = MetricsRecorder(1.0)
    for w in waits:
        r.started(0.5, w)
    f = close(r, 1.0)
    if len(waits) == 1:
        expected = [waits[0]] * 99
    else:
        expected = statistics.quantiles(waits, n=100, method="inclusive")
    for got, k in ((f.wait_p50, 50), (f.wait_p95, 95), (f.wait_p99, 99)):
        assert got == pytest.approx(expected[k - 1], rel=1e-12, abs=1e-12)


def test_sample_interval_boundaries() -> None:
    r = MetricsRecorder(1.0, start=100.0)
    assert r.next_frame_at == 101.0
    close(r, 101.0)
    assert r.next_frame_at == 102.0
    quarter = MetricsRecorder(0.25, start=100.0)
    assert quarter.next_frame_at == pytest.approx(100.25)
    f = close(quarter, 100.25)
    assert f.t == 100.25 and quarter.next_frame_at == pytest.approx(100.5)
    with pytest.raises(ValueError):
        MetricsRecorder(0.0)
    with pytest.raises(ValueError):
        MetricsRecorder(-1.0)
    with pytest.raises(ValueError):
        MetricsRecorder(1.0, warmup=-1.0)


def _warmup_story(r: MetricsRecorder) -> None:
    r.workers_changed(0.0, 2)
    r.busy_changed(0.0, 2)
    r.arrived(1.0)
    r.arrived(2.0)
    r.started(3.0, 9.0)  # first start inside the warm-up: excluded
    r.finished(4.0, 1.0, ok=True)  # inside the warm-up: excluded
    r.busy_changed(4.0, 0)
    r.arrived(5.0)  # exactly at the warm-up end counts
    r.started(5.0, 1.0)
    r.busy_changed(6.0, 1)
    r.arrived(7.0)
    r.started(7.0, 3.0)
    r.finished(8.0, 2.0, ok=True)
    r.finished(8.5, 4.0, ok=False)
    r.retried(8.5)
    r.dead_lettered(9.0)
    r.reprocessed(9.5, 1)


def _check_warmup_summary(s: RunSummary) -> None:
    assert (s.start, s.end, s.duration) == (5.0, 10.0, 5.0)
    assert (s.arrived, s.completed, s.failed_attempts, s.retries) == (2, 1, 1, 1)
    assert (s.dead_lettered, s.reprocessed, s.waits) == (1, 1, 2)
    assert s.mean_wait == pytest.approx(2.0)
    assert s.max_wait == 3.0
    assert s.mean_service == pytest.approx(3.0)
    assert s.worker_seconds == pytest.approx(10.0)  # 2 workers over [5, 10]
    assert s.utilization == pytest.approx(0.4)  # busy 0 on [5,6), 1 on [6,10]
    assert s.throughput == pytest.approx(0.2)
    assert math.isnan(s.mean_wait_ci95)  # two waits are far from ten batches


@pytest.mark.parametrize("closed_first", [True, False])
def test_warmup_is_excluded_from_the_summary(closed_first: bool) -> None:
    r = MetricsRecorder(10.0, warmup=5.0)
    _warmup_story(r)
    if closed_first:
        f = close(r, 10.0)
        assert f.arrival_rate == pytest.approx(0.4)  # frames cover the warm-up too
        _check_warmup_summary(r.summary())
    else:
        _check_warmup_summary(r.summary(10.0))
        _check_warmup_summary(r.summary(10.0))  # summarizing twice counts nothing twice
        close(r, 10.0)
        _check_warmup_summary(r.summary())


def test_warmup_spanning_frames() -> None:
    r = MetricsRecorder(1.0, warmup=2.5)
    r.workers_changed(0.0, 1)
    r.busy_changed(0.0, 1)
    for k in range(1, 6):
        r.arrived(k - 0.5)
        r.started(k - 0.5, float(k))
        r.finished(k - 0.1, 0.4, ok=True)
        close(r, float(k))
    s = r.summary()
    # from 2.5 on: arrivals and first starts at 2.5, 3.5, 4.5; completions at 2.9, 3.9, 4.9
    assert (s.arrived, s.completed, s.waits) == (3, 3, 3)
    assert s.mean_wait == pytest.approx(4.0)
    assert s.worker_seconds == pytest.approx(2.5)
    assert s.utilization == pytest.approx(1.0)


def test_summary_during_warmup_is_empty() -> None:
    r = MetricsRecorder(1.0, warmup=100.0)
    r.arrived(1.0)
    r.started(1.0, 0.5)
    close(r, 2.0)
    s = r.summary()
    assert (s.arrived, s.completed, s.waits, s.worker_seconds) == (0, 0, 0, 0.0)
    assert math.isnan(s.mean_wait) and math.isnan(s.wait_p99) and math.isnan(s.throughput)


def test_summary_as_dict_is_plain_json() -> None:
    r = MetricsRecorder(1.0)
    r.arrived(0.5)
    close(r, 1.0)
    s = r.summary().with_extras(events=3, wall_seconds=0.01, final_workers=0)
    d = s.as_dict()
    assert list(d)[:4] == ["start", "end", "duration", "arrived"]
    assert list(d)[-3:] == ["events", "wall_seconds", "final_workers"]
    assert d["mean_wait"] is None and d["mean_wait_ci95"] is None
    assert d["arrived"] == 1 and d["events"] == 3
    json.dumps(d, allow_nan=False)
    assert "extras" not in d


def _mm1_lindley(
    r: MetricsRecorder, lam: float, mu: float, n: int, seed: int, interval: float
) -> None:
    """Feed a FIFO M/M/1 queue (Lindley's recursion) to the recorder in time order."""
    rng = random.Random(seed)
    arrival = 0.0
    free_at = 0.0  # when the server finishes its current task
    next_frame = interval
    r.workers_changed(0.0, 1)
    for _ in range(n):
        arrival += rng.expovariate(lam)
        start = max(arrival, free_at)
        while next_frame <= start:
            close(r, next_frame)
            next_frame += interval
        r.arrived(arrival)
        r.started(start, start - arrival)
        free_at = start + rng.expovariate(mu)


def test_mm1_waits_match_theory_within_the_batch_means_interval() -> None:
    lam, mu = 0.5, 1.0
    r = MetricsRecorder(sample_interval=50.0, warmup=500.0)
    _mm1_lindley(r, lam, mu, n=150_000, seed=7, interval=50.0)
    s = r.summary()
    pred = erlang_c(lam, mu, 1)
    assert pred.wq == pytest.approx(1.0)
    assert 0 < s.mean_wait_ci95 < 0.06
    assert abs(s.mean_wait - pred.wq) < 3 * s.mean_wait_ci95
    assert s.wait_p95 == pytest.approx(wait_quantile(pred, 0.95), rel=0.05)
    assert s.wait_p99 == pytest.approx(wait_quantile(pred, 0.99), rel=0.08)


def test_memory_stays_bounded() -> None:
    r = MetricsRecorder(sample_interval=1.0)
    rng = random.Random(3)
    t = 0.0
    for k in range(1, 2001):
        for _ in range(100):
            t = k - 1 + rng.random() * 0.999
            r.arrived(t)
            r.started(t, rng.lognormvariate(0.0, 2.0))
            r.finished(t, 0.1, ok=True)
        close(r, float(k))
        assert len(r._waits) == 0  # only the open interval's waits are ever kept
    s = r.summary()
    assert s.waits == 200_000
    assert len(r._batch_means.batches) <= 64
    assert r.wait_histogram.buckets < 6000
    assert math.isfinite(s.mean_wait_ci95)


def test_pool_changes_after_the_warmup_are_counted_once_per_instant() -> None:
    r = MetricsRecorder(1.0, warmup=2.0)
    r.workers_changed(0.0, 2)  # the starting pool: not scaling
    r.workers_changed(1.0, 5)  # inside the warm-up: not measured
    r.workers_changed(3.0, 6)
    r.workers_changed(3.0, 7)  # the same instant: one event, two starts
    r.workers_changed(4.0, 4)  # scale down: an event, no start
    r.workers_changed(5.0, 4)  # no change: no event
    close(r, 6.0)
    s = r.summary()
    assert (s.worker_starts, s.scale_events, s.peak_workers) == (2, 2, 7)
    # 5 workers on [2, 3), 7 on [3, 4), 4 on [4, 6]
    assert s.worker_seconds == pytest.approx(5 + 7 + 8)
    assert s.mean_workers == pytest.approx(20 / 4)


def test_the_starting_pool_is_not_a_scale_event() -> None:
    r = MetricsRecorder(1.0)
    r.workers_changed(0.0, 0)
    r.workers_changed(0.0, 3)
    close(r, 2.0)
    s = r.summary()
    assert (s.worker_starts, s.scale_events, s.peak_workers) == (0, 0, 3)
    assert s.mean_workers == pytest.approx(3.0)
