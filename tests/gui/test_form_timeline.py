"""The scenario form follows the timeline: while a run goes on it shows the knobs in force,
a scripted change said at its field and never sent back as an edit; once the run is over
(or reset) it shows the scenario's own values, with the user's edits made during the run."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from queuelab.core.engine import RunState
from queuelab.core.scenario import Scenario
from queuelab.core.timeline import TimelineEntry
from queuelab.gui.main_window import MainWindow

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio

SURGE = TimelineEntry(at=5.0, path="arrivals.rate", value=4.4, duration=5.0, label="surge")


def _with_timeline(*entries: TimelineEntry, **sections: dict[str, object]) -> Scenario:
    base = scenario(scenario(run={"duration": 30.0, "warmup": 0.0}, arrivals={"rate": 3.2},
                             pool={"strategy": "fixed", "workers": 10}), **sections)
    return replace(base, timeline=entries)


def _paused_at(w: MainWindow, t: float) -> None:
    """Play the simulated run to scenario time `t`, paused, and let the window catch up."""
    engine = w.runner.engine
    assert engine is not None
    if engine.state == RunState.IDLE:
        w.runner.step()  # a step from idle starts the run paused
    assert engine.state == RunState.PAUSED
    engine.resume()  # behind the runner's back: the window sees the run paused throughout
    engine.run_until(t)  # type: ignore[attr-defined]
    engine.pause()
    w.refresh()


def _shown(w: MainWindow, path: str) -> object:
    return w.form.fields[path].editor.value()


def _tip(w: MainWindow, path: str) -> str:
    return w.form.fields[path].editor.widget.toolTip()


def _log(w: MainWindow) -> list[tuple[str, object, object]]:
    assert w.runner.engine is not None
    return [(c.path, c.old, c.new) for c in w.runner.engine.changes]


async def test_the_form_shows_the_knobs_in_force_and_not_as_edits(window: MainWindow) -> None:
    w = window
    w.set_scenario(_with_timeline(SURGE), None)
    _paused_at(w, 4.0)
    assert _shown(w, "arrivals.rate") == 3.2 and "timeline" not in _tip(w, "arrivals.rate")
    _paused_at(w, 7.0)
    assert _shown(w, "arrivals.rate") == 4.4
    assert "Set by the timeline at 5 s (surge)" in _tip(w, "arrivals.rate")
    assert w.form.fields["arrivals.rate"].note is not None  # its label is marked too
    assert _log(w) == [("arrivals.rate", 3.2, 4.4)]  # shown, not submitted back

    w.form.fields["pool.workers"].editor.box.setValue(12)  # type: ignore[attr-defined]
    assert _log(w) == [("arrivals.rate", 3.2, 4.4), ("pool.workers", 10, 12)]
    assert _shown(w, "arrivals.rate") == 4.4, "the user's edit leaves the timeline's value"
    assert w.scenario.arrivals.rate == 3.2, "the scenario keeps the edit, not the timeline's"
    markers = w.plots.plots["queue"].markers
    assert len(markers) == 2

    _paused_at(w, 12.0)
    assert _shown(w, "arrivals.rate") == 3.2
    assert "Put back by the timeline at 10 s (surge)" in _tip(w, "arrivals.rate")
    w.refresh()
    assert _log(w) == [("arrivals.rate", 3.2, 4.4), ("pool.workers", 10, 12),
                       ("arrivals.rate", 4.4, 3.2)]
    assert len(markers) == 3
    assert w.scenario.arrivals.rate == 3.2 and w.scenario.pool.workers == 12


async def test_after_the_run_the_form_shows_the_scenario_again(window: MainWindow) -> None:
    """An outage: workers 10 → 5 from 5 s on, never put back. Over, the form shows the
    scenario's 10 (what the next run starts from); during the run it showed the 5."""
    w = window
    outage = TimelineEntry(at=5.0, path="pool.workers", value=5, label="downstream outage")
    w.set_scenario(_with_timeline(outage), None)
    _paused_at(w, 7.0)
    assert _shown(w, "pool.workers") == 5
    assert "Set by the timeline at 5 s (downstream outage)" in _tip(w, "pool.workers")
    w.set_speed(None)
    w.toggle_run()  # resume to the end
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.state == RunState.FINISHED, what="the run's end")
    assert _shown(w, "pool.workers") == 10 and w.form.fields["pool.workers"].note is None
    assert "timeline" not in _tip(w, "pool.workers")
    assert not w.isWindowModified(), "the timeline's change is not an edit of the scenario"
    w.reset()
    assert _shown(w, "pool.workers") == 10 and w.runner.engine is not engine


async def test_a_hand_edit_of_a_knob_the_timeline_holds(window: MainWindow) -> None:
    """The user's edit wins until the timeline's next moment; it is logged once, kept in the
    scenario, and the next run starts from it."""
    w = window
    w.set_scenario(_with_timeline(SURGE), None)
    _paused_at(w, 7.0)
    w.form.fields["arrivals.rate"].editor.box.setValue(6.0)  # type: ignore[attr-defined]
    assert _shown(w, "arrivals.rate") == 6.0 and w.form.fields["arrivals.rate"].note is None
    w.refresh()
    assert _log(w) == [("arrivals.rate", 3.2, 4.4), ("arrivals.rate", 4.4, 6.0)]
    _paused_at(w, 12.0)  # the restore puts back the value the surge replaced
    assert _shown(w, "arrivals.rate") == 3.2
    assert w.scenario.arrivals.rate == 6.0
    w.reset()
    assert _shown(w, "arrivals.rate") == 6.0 and w.form.fields["arrivals.rate"].note is None


async def test_the_live_engine_is_followed_too(window: MainWindow) -> None:
    from queuelab.gui.engines import LIVE, unavailable_reason

    if unavailable_reason(LIVE) is not None:
        pytest.skip("this build has no live engine")
    w = window
    # 60 scenario seconds in 6 wall seconds: the surge 2 s, after it 4 s, wide enough to see
    surge = replace(SURGE, at=10.0, duration=20.0)
    w.set_scenario(_with_timeline(surge, run={"duration": 60.0, "warmup": 0.0,
                                              "time_scale": 0.1},
                                  queue={"backend": f"memory://form-timeline-{id(w)}"}), None)
    w.controls.mode_actions[LIVE].trigger()
    engine = w.runner.engine
    assert engine is not None and engine.kind == LIVE
    w.toggle_run()
    await wait_until(lambda: _shown(w, "arrivals.rate") == 4.4, timeout=30, what="the surge")
    assert "Set by the timeline at 10 s (surge)" in _tip(w, "arrivals.rate")
    await wait_until(lambda: _shown(w, "arrivals.rate") == 3.2, timeout=30, what="the restore")
    assert engine.state in (RunState.RUNNING, RunState.STOPPING)
    assert "Put back by the timeline at 30 s (surge)" in _tip(w, "arrivals.rate")
    assert _log(w) == [("arrivals.rate", 3.2, 4.4), ("arrivals.rate", 4.4, 3.2)]
    await wait_until(lambda: w.state_label.text() == "finished", timeout=30, what="the end")
    assert w.form.fields["arrivals.rate"].note is None and _shown(w, "arrivals.rate") == 3.2
    await asyncio.sleep(0.2)  # the live engine's queue closes in the background


async def test_an_edit_valid_only_beside_the_timeline_s_values_is_the_run_s(
        window: MainWindow) -> None:
    """Min workers 6 is fine while the timeline has raised max workers to 10, not beside the
    scenario's own 4: it applies to the run, the scenario keeps 1, and the status says so."""
    w = window
    wider = TimelineEntry(at=5.0, path="pool.max_workers", value=10)
    w.set_scenario(_with_timeline(wider, pool={"strategy": "dynamic", "min_workers": 1,
                                               "max_workers": 4}), None)
    _paused_at(w, 7.0)
    assert _shown(w, "pool.max_workers") == 10
    w.form.fields["pool.min_workers"].editor.box.setValue(6)  # type: ignore[attr-defined]
    assert w.form.fields["pool.min_workers"].invalid_reason is None
    assert _log(w)[-1] == ("pool.min_workers", 1, 6)
    assert w.scenario.pool.min_workers == 1 and w.scenario.pool.max_workers == 4
    assert "applies to this run only" in w.message.text()
