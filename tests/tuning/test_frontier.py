"""The frontier: nothing on it is dominated, everything off it is, judged by the intervals."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.tuning.frontier import cheapest_meeting, dominates, frontier
from queuelab.tuning.stats import Estimate, PointStats, estimate, meets, surely_lower

METRIC = "wait_p95"


def _point(number: int, cost: Estimate, wait: Estimate) -> PointStats:
    return PointStats(number, (number,), "ok", "", max(cost.n, 1),
                      {"cost": cost, METRIC: wait})


_estimates = st.builds(
    Estimate,
    st.integers(0, 12).map(float),  # coarse means: ties happen, as with identical points
    st.one_of(st.just(0.0), st.integers(0, 8).map(lambda x: x / 2)),
    st.just(5),
)
_points = st.lists(st.tuples(_estimates, _estimates), min_size=1, max_size=25).map(
    lambda pairs: [_point(i, c, w) for i, (c, w) in enumerate(pairs)])


@settings(max_examples=300, deadline=None)
@given(_points)
def test_the_frontier_holds_no_dominated_point_and_drops_only_dominated_ones(
        points: list[PointStats]) -> None:
    front = frontier(points, METRIC)
    on = {p.number for p in front}
    for p in points:
        beaten = any(dominates(q, p, METRIC) for q in points)
        assert beaten == (p.number not in on), p
    assert front, "some point is never dominated: the cheapest of the fastest"
    costs = [p.get("cost").mean for p in front]
    assert costs == sorted(costs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_without_intervals_it_is_the_plain_pareto_set(pairs: list[tuple[int, int]]) -> None:
    points = [_point(i, Estimate(float(c), math.nan, 1), Estimate(float(w), math.nan, 1))
              for i, (c, w) in enumerate(pairs)]
    pareto = {i for i, (c, w) in enumerate(pairs)
              if not any(c2 <= c and w2 <= w and (c2, w2) != (c, w) for c2, w2 in pairs)}
    assert {p.number for p in frontier(points, METRIC)} == pareto


def test_a_point_is_better_only_when_the_intervals_say_so() -> None:
    a = _point(0, Estimate(10.0, 1.0, 5), Estimate(3.0, 1.0, 5))
    b = _point(1, Estimate(10.5, 1.0, 5), Estimate(3.5, 1.0, 5))  # worse on both means ...
    assert not dominates(a, b, METRIC)  # ... but the intervals overlap on both
    assert {p.number for p in frontier([a, b], METRIC)} == {0, 1}
    c = _point(2, Estimate(10.5, 0.1, 5), Estimate(5.5, 0.4, 5))  # surely slower than a
    assert dominates(a, c, METRIC)
    assert {p.number for p in frontier([a, b, c], METRIC)} == {0, 1}


def test_t_intervals_and_the_objective() -> None:
    e = estimate([1.0, 2.0, 3.0, 4.0, 5.0])
    # s = 1.5811, t(4) = 2.7764: half-width 2.7764 * 1.5811 / sqrt(5)
    assert e.mean == 3.0 and math.isclose(e.half_width, 2.7764 * math.sqrt(2.5 / 5), rel_tol=1e-9)
    assert math.isnan(estimate([2.0]).half_width) and estimate([]).n == 0
    assert estimate([1.0, float("nan"), 3.0]).n == 2  # a run with nothing measured is left out
    assert surely_lower(Estimate(1, 0.5, 3), Estimate(2, 0.4, 3))
    assert not surely_lower(Estimate(1, 0.5, 3), Estimate(2, 0.6, 3))
    sure = _point(0, Estimate(5.0, 0.1, 5), Estimate(1.5, 0.3, 5))
    mean_only = _point(1, Estimate(4.0, 0.1, 5), Estimate(1.9, 0.3, 5))
    missed = _point(2, Estimate(1.0, 0.1, 5), Estimate(2.5, 0.3, 5))
    assert [meets(p, METRIC, 2.0) for p in (sure, mean_only, missed)] == ["yes", "mean", "no"]
    best, level, ties = cheapest_meeting([sure, mean_only, missed], METRIC, 2.0)
    assert best is sure and level == "yes" and ties == []
    best, level, _ = cheapest_meeting([mean_only, missed], METRIC, 2.0)
    assert best is mean_only and level == "mean"
    assert cheapest_meeting([missed], METRIC, 2.0)[0] is None
