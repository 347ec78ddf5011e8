"""Rates derived from what a monitored source shows, and the alert rules."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.monitoring import AlertRules, AlertWatch, Sample, gap, rates


def test_reported_rates_win_then_counters_then_flow_balance() -> None:
    a = Sample(t=0.0, ready=10, in_flight=2, arrived=100.0, completed=50.0)
    b = Sample(t=10.0, ready=14, in_flight=2, arrived=130.0, completed=76.0)
    assert rates(a, b) == (3.0, 2.6)
    assert rates(a, Sample(t=10.0, ready=1, arrival_rate=7.0, completion_rate=8.0)) == (7.0, 8.0)
    c = Sample(t=0.0, ready=10, in_flight=2, failed=1, completed=50.0)
    d = Sample(t=10.0, ready=14, in_flight=2, failed=3, completed=76.0)
    assert rates(c, d) == (3.2, 2.6)  # (26 done + 2 failed + 4 more waiting) / 10 s


def test_unknown_is_nan_never_zero() -> None:
    a, b = Sample(t=0.0, ready=3), Sample(t=5.0, ready=4)
    assert all(math.isnan(x) for x in rates(a, b))  # depth alone: no rate can be known
    assert all(math.isnan(x) for x in rates(None, b))
    assert all(math.isnan(x) for x in rates(gap(0.0, "away"), b))
    restarted = Sample(t=5.0, ready=4, completed=1.0)
    assert math.isnan(rates(Sample(t=0.0, ready=3, completed=90.0), restarted).completion)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=60))
def test_flow_balance_recovers_arrivals(arrivals: list[int]) -> None:
    """Whatever arrives, with completions counted, flow balance gives it back exactly."""
    backlog, done = 50, 0
    prev = Sample(t=0.0, ready=backlog, completed=0.0)
    for k, n in enumerate(arrivals, 1):
        served = min(backlog + n, 40)
        backlog, done = backlog + n - served, done + served
        cur = Sample(t=float(k), ready=backlog, completed=float(done))
        assert rates(prev, cur).arrival == n
        prev = cur


def test_backlog_alert_once_per_episode() -> None:
    watch = AlertWatch(AlertRules(backlog=10))
    samples = [Sample(t=float(i), ready=v) for i, v in enumerate([5, 11, 12, 0, 13, 9, 20])]
    samples[3] = gap(3.0, "away")  # an outage neither clears nor fires
    fired = [watch.observe(s) for s in samples]
    assert [len(f) for f in fired] == [0, 1, 0, 0, 0, 0, 1]


def test_growing_for_n_minutes() -> None:
    watch = AlertWatch(AlertRules(growing_minutes=2))
    out = []
    for k in range(40):  # grows by one every 5 s …
        out += watch.observe(Sample(t=5.0 * k, ready=k))
    assert [a.rule for a in out] == ["growing"] and out[0].t == 120.0
    out = [a for k in range(40, 80) for a in watch.observe(Sample(t=5.0 * k, ready=40))]
    assert out == []  # flat: no new alert
    fell = watch.observe(Sample(t=400.0, ready=10))
    assert fell == []
    again = [a for k in range(1, 30) for a in watch.observe(Sample(t=400 + 5.0 * k,
                                                                   ready=10 + k))]
    assert [a.rule for a in again] == ["growing"]  # a new episode after the fall
