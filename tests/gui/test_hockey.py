"""The hockey-stick dialog: theory curves, the operating point, and a quick sweep's points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from queuelab.core.engine import RunState
from queuelab.core.hockey import pooled_wait, separate_wait
from queuelab.gui import hockey_view
from queuelab.gui.hockey_view import HockeyDialog, show_hockey
from queuelab.gui.main_window import MainWindow
from queuelab.tuning.hockey import hockey_sweep, separate_sweep

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio

MM2 = {"run": {"duration": 3000.0, "warmup": 100.0, "sample_interval": 10.0},
       "arrivals": {"process": "poisson", "rate": 1.5},
       "service": {"distribution": "exponential", "mean": 1.0},
       "pool": {"strategy": "fixed", "workers": 2}}


def _mm2(window: MainWindow) -> None:
    window.set_scenario(scenario(**MM2), None)


async def test_the_curves_and_the_operating_point_before_and_after_a_run(
        window: MainWindow) -> None:
    _mm2(window)
    d = show_hockey(window)
    assert isinstance(d, HockeyDialog) and d.isVisible()
    assert show_hockey(window) is d  # one dialog, raised again
    x, y = d.pooled_line.getData()
    assert x[0] == 0.0 and x[-1] == pytest.approx(0.98)
    i = int(np.argmin(abs(x - 0.75)))
    assert y[i] == pytest.approx(pooled_wait(x[i], 2, 1.0))
    assert d.chart.getPlotItem().vb.viewRange()[1][1] == pytest.approx(9 * 1.08)
    sx, sy = d.separate_line.getData()
    assert sy[i] == pytest.approx(separate_wait(sx[i], 1.0))  # 3.0 at ρ = 0.75, below the cap
    assert "capped at 9 s" in d.cap_label.toPlainText()
    # before a run: the theory's point at ρ = 0.75, hollow
    assert d.now_point == (0.75, pytest.approx(9 / 7), pytest.approx(math.nan, nan_ok=True),
                           False)
    assert d.now_text == "now (theory, no run yet): ρ = 0.75, Wq = 1.29 s"
    window.set_speed(None)
    window.toggle_run()
    engine = window.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.state == RunState.FINISHED, 30.0, "the run's end")
    d.refresh()
    rho, wait, hw, measured = d.now_point
    s = engine.summary()
    assert measured and rho == 0.75 and wait == s.mean_wait and hw == s.mean_wait_ci95
    mx, my = d.now_marker.getData()
    assert list(mx) == [0.75] and list(my) == [pytest.approx(s.mean_wait)]
    assert d.now_text.startswith("now (this run): ρ = 0.75, Wq = ")
    assert any(label.text == d.now_text for _, label in d.legend.items)
    assert d.now_line.value() == 0.75 and d.now_line.isVisible()
    d.separate_box.setChecked(False)
    sx, _ = d.separate_line.getData()
    assert sx is None or len(sx) == 0
    d.close()


async def test_a_quick_sweep_fills_the_measured_points_with_intervals(
        window: MainWindow) -> None:
    _mm2(window)
    d = show_hockey(window)
    sweep = hockey_sweep(window.scenario, (0.4, 0.7), replications=3)
    assert d.start(sweep)
    assert d.measure_button.text() == "Cancel" and not d.start(sweep)
    await wait_until(lambda: not d.running, 60.0, "the sweep's end")
    assert d.progress.value() == d.progress.maximum() == 2
    assert [p.rho for p in d.measured] == pytest.approx([0.4, 0.7])
    px, py = d.points.getData()
    assert list(px) == pytest.approx([0.4, 0.7])
    assert list(py) == pytest.approx([p.mean_wait.mean for p in d.measured])
    assert all(p.mean_wait.n == 3 and p.mean_wait.half_width > 0 for p in d.measured)
    assert "2 measured points, 3 seeds" in d.note.text()
    # again, with one point fewer: the old points and bars go, nothing is drawn twice
    assert d.start(hockey_sweep(window.scenario, (0.5,), replications=2))
    assert d.measured == [] and d.points.getData()[0].size == 0
    d.chart.grab()  # paints the emptied bars
    await wait_until(lambda: not d.running, 60.0, "the second sweep's end")
    assert [p.rho for p in d.measured] == pytest.approx([0.5])
    assert d.points.getData()[0].tolist() == pytest.approx([0.5])
    d.chart.grab()
    d.close()


async def test_the_separate_queues_get_measured_points_too(window: MainWindow) -> None:
    """Beside the pooled points, one of the separate queues (λ/c, one worker) swept over the
    same utilizations: squares near the dashed M/M/1 curve, above the pooled ones."""
    _mm2(window)
    d = show_hockey(window)
    sc = window.scenario
    assert d.start(hockey_sweep(sc, (0.4, 0.7), replications=3),
                   separate_sweep(sc, (0.4, 0.7), replications=3))
    await wait_until(lambda: not d.running, 60.0, "the sweep's end")
    assert d.progress.value() == d.progress.maximum() == 4
    assert [p.rho for p in d.measured_separate] == pytest.approx([0.4, 0.7])
    sx, sy = d.separate_points.getData()
    assert list(sx) == pytest.approx([0.4, 0.7])
    assert list(sy) == pytest.approx([p.mean_wait.mean for p in d.measured_separate])
    for p, pooled in zip(d.measured_separate, d.measured, strict=True):
        assert abs(p.mean_wait.mean - separate_wait(p.rho, 1.0)) <= 2 * p.mean_wait.half_width
        assert p.mean_wait.mean > pooled.mean_wait.mean
    assert any(label.text == "one separate queue, measured" for _, label in d.legend.items)
    assert "one of the separate queues run alone" in d.note.text()
    d.separate_box.setChecked(False)  # hidden with their curve
    assert d.separate_points.getData()[0].size == 0
    d.close()


async def test_a_sweep_can_be_cancelled(window: MainWindow,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    window.set_scenario(scenario(**{**MM2, "run": {"duration": 200_000.0, "warmup": 100.0,
                                                   "sample_interval": 100.0}}), None)
    d = show_hockey(window)
    asked: list[float] = []

    def refuse(sweep: object, seconds: float) -> None:
        asked.append(seconds)

    window.tune.confirm_long = refuse  # a long sweep says how long first, as in Tune
    days = scenario(**{**MM2, "run": {"duration": 2e7, "warmup": 100.0,
                                      "sample_interval": 1000.0}})
    # how long a run takes depends on the machine: what is tested is what a long one does
    with monkeypatch.context() as m:
        m.setattr(hockey_view, "seconds_per_run", lambda s: 60.0)
        assert not d.start(hockey_sweep(days, replications=5))
    assert asked and asked[0] > 180 and not d.running
    window.tune.confirm_long = lambda sweep, seconds: sweep
    assert d.start(hockey_sweep(window.scenario, replications=2))
    d.measure_button.click()
    assert d.measure_button.text() == "Cancelling…"
    await wait_until(lambda: not d.running, 120.0, "the cancel")
    assert "(cancelled)" in d.progress.format()
    assert d.measure_button.text() == "Measure" and d.measure_button.isEnabled()


async def test_a_dynamic_pool_says_why_there_is_no_curve_and_others_are_approximated(
        window: MainWindow) -> None:
    window.set_scenario(scenario(pool={"strategy": "dynamic"}), None)
    d = show_hockey(window)
    assert "No hockey stick" in d.headline.text() and "dynamic pool" in d.headline.text()
    assert not d.measure_button.isEnabled() and d.now_point is None
    window.set_scenario(scenario(**{**MM2, "service": {"distribution": "lognormal",
                                                       "mean": 1.0}}), None)
    d.refresh()
    assert "M/M/c approximation" in d.headline.text() and "lognormal" in d.headline.text()
    assert d.measure_button.isEnabled()
