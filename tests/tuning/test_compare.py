"""Runs side by side: intervals over seeds, and a difference called real only on evidence."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.scenario import Scenario
from queuelab.sim.engine import SimEngine
from queuelab.tuning.compare import COMPARED, difference, estimates, format_estimate
from queuelab.tuning.runner import FIGURES, ViolationCounter, summary_figures
from queuelab.tuning.spec import CostModel, Objective
from queuelab.tuning.stats import Estimate


def test_every_compared_figure_is_a_run_figure() -> None:
    assert {c.key for c in COMPARED} <= set(FIGURES)


def test_one_run_against_one_run_is_never_called_real() -> None:
    d = difference(Estimate(1.0, math.nan, 1), Estimate(5.0, math.nan, 1))
    assert d.delta == 4.0 and d.relative == 4.0 and not d.real and d.better is None


def test_separate_intervals_are_real_and_overlapping_ones_are_not() -> None:
    base = estimates([{"wait_p95": v} for v in (2.0, 2.1, 1.9, 2.0)])["wait_p95"]
    lower = estimates([{"wait_p95": v} for v in (1.0, 1.1, 0.9, 1.0)])["wait_p95"]
    noisy = estimates([{"wait_p95": v} for v in (0.5, 3.5, 1.0, 3.0)])["wait_p95"]
    d = difference(base, lower)
    assert d.real and d.better is True and d.delta < 0
    assert not difference(base, noisy).real
    assert difference(base, lower, lower_is_better=None).better is None
    assert difference(lower, base).better is False


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=8),
       st.lists(st.floats(0, 1e6), min_size=2, max_size=8))
def test_real_means_the_intervals_do_not_overlap(a: list[float], b: list[float]) -> None:
    ea = estimates([{"cost": x} for x in a])["cost"]
    eb = estimates([{"cost": x} for x in b])["cost"]
    d = difference(ea, eb)
    assert d.real == (ea.high < eb.low or eb.high < ea.low)
    assert d.real == difference(eb, ea).real


def test_the_figures_are_the_summary_s_and_the_cost_model_s() -> None:
    s = Scenario()
    engine = SimEngine(s)
    engine.start()
    engine.run_until(s.run.duration)
    frames, summary = engine.take_frames(), engine.summary()
    counter = ViolationCounter(Objective("wait_p95", 0.5), s.run.warmup)
    counter.add_frames(frames)
    fig = summary_figures(summary, CostModel(worker_hour=3.0, per_start=0.5), counter.share)
    assert fig["worker_hours"] * 3600 == summary.worker_seconds
    assert fig["cost"] == 3.0 * summary.worker_seconds / 3600 + 0.5 * summary.worker_starts
    after = [f for f in frames if f.t > s.run.warmup]
    assert fig["slo_violation_share"] == sum(f.wait_p95 > 0.5 for f in after) / len(after)
    e = estimates([fig])
    assert e["wait_p99"].mean == summary.wait_p99 and e["wait_p99"].n == 1
    assert "±" not in format_estimate(e["wait_p99"], COMPARED[5])


def test_a_mean_wait_objective_has_no_per_frame_share() -> None:
    c = ViolationCounter(Objective("mean_wait", 1.0), 0.0)
    c.add_frames([])
    assert math.isnan(c.share)
