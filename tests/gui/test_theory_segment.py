"""The Theory tab after a change: the prediction for the knobs now, measured over the segment
since the change (its warm-up skipped, and said), with Little's law over the same window."""

from __future__ import annotations

from dataclasses import replace

import pytest

from queuelab.core.engine import RunState
from queuelab.core.theory import erlang_c, mmck
from queuelab.core.timeline import TimelineEntry
from queuelab.gui.main_window import TAB_THEORY, MainWindow

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio


async def _run(w: MainWindow) -> None:
    w.tabs.setCurrentIndex(TAB_THEORY)
    w.set_speed(None)
    w.toggle_run()
    assert w.runner.engine is not None
    await wait_until(lambda: w.runner.engine.state == RunState.FINISHED)  # type: ignore[union-attr]
    w.refresh()


async def test_after_a_timeline_change_the_tab_measures_the_segment(window: MainWindow) -> None:
    """Four workers, then five from 3,000 s on: the tab predicts M/M/c for c = 5 and measures
    since the change, skipping 5τ of the new load; the whole run would mix two loads."""
    w = window
    base = scenario(run={"duration": 20_000.0, "warmup": 120.0},
                    arrivals={"process": "poisson", "rate": 3.2},
                    service={"distribution": "exponential", "mean": 1.0},
                    pool={"strategy": "fixed", "workers": 4})
    w.set_scenario(replace(base, timeline=(
        TimelineEntry(at=3_000.0, path="pool.workers", value=5, label="one more worker"),)), None)
    await _run(w)
    pane = w.theory
    assert pane.table.horizontalHeaderItem(0).text() == "Erlang C (M/M/c, c = 5)"
    ref = erlang_c(3.2, 1.0, 5)
    assert pane.table.item(4, 0).text() == f"{ref.wq:,.4g} s"
    text = pane.segment.text()
    assert "since the change at 3,000 s (Workers 4 → 5)" in text
    assert "excluded as warm-up (5τ, τ = " in text
    win = pane.measured
    assert win is not None and win.start > 3_000.0 and win.end == 20_000.0
    assert abs(win.wq - ref.wq) <= 2 * win.wq_ci95
    assert "Little's law</b> over this window: L = " in pane.little.text()
    assert win.little_gap < 0.01
    assert "Beyond Erlang C</b> (for this segment's knobs)" in pane.beyond.text()
    assert "timeline" not in pane.beyond.text()  # within a segment nothing changes


async def test_a_bounded_queue_after_a_change_is_held_to_mmck(window: MainWindow) -> None:
    w = window
    base = scenario(run={"duration": 20_000.0, "warmup": 200.0},
                    arrivals={"process": "poisson", "rate": 1.5},
                    service={"distribution": "exponential", "mean": 1.0},
                    pool={"strategy": "fixed", "workers": 2}, queue={"max_length": 3})
    w.set_scenario(replace(base, timeline=(
        TimelineEntry(at=2_000.0, path="arrivals.rate", value=2.5, label="busier"),)), None)
    await _run(w)
    pane = w.theory
    want = mmck(2.5, 1.0, 2, 5)
    assert pane.table.horizontalHeaderItem(0).text() == "M/M/c/K (c = 2, K = 5)"
    assert pane.table.item(7, 0).text() == f"{want.p_block * 100:,.4g} %"
    win = pane.measured
    assert win is not None and win.start > 2_000.0
    assert win.p_block == pytest.approx(want.p_block, abs=0.02)
    assert win.admitted_rate == pytest.approx(want.admitted_rate, rel=0.03)
    assert win.l == pytest.approx(want.l, rel=0.05)
    assert "M/M/c/K with λ = 2.5/s offered" in pane.headline.text()
