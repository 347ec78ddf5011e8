"""The app asks before a live run touches what its queue already holds.

The queue (a SQLite file) is filled first as another program would leave it: ready tasks
and dead letters. Start must then ask, with the counts, and do exactly what was chosen:
work them off (carried over in the books), start on a fresh queue, purge, or nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from queuelab.backends import open_queue
from queuelab.core.engine import RunState
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.queue_names import queue_name
from queuelab.core.task import Task
from queuelab.gui.engines import LIVE, unavailable_reason
from queuelab.gui.main_window import MainWindow

from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio

WAITING, DEAD = 30, 3
FOUND = f"{WAITING} waiting and {DEAD} dead letters"


async def _counts(url: str) -> tuple[int, int]:
    async with open_queue(url) as q:
        c = await q.counts()
    return c.ready + c.delayed + c.leased, c.dead


async def _setup(w: MainWindow, tmp: Path) -> str:
    if unavailable_reason(LIVE) is not None:
        pytest.skip("this build has no live engine")
    url = f"sqlite:///{tmp / 'held.db'}?queue=held-{uuid.uuid4().hex[:8]}"
    async with open_queue(url) as q:
        await q.enqueue_many(Task(task_id(i), synthetic_payload(i, 0, 8), created_at=0.0)
                             for i in range(1, WAITING + DEAD + 1))
        for d in await q.claim(60.0, max_tasks=DEAD):
            await q.dead_letter(d, "Refused", "an earlier program's", 0.0)
    w.set_scenario(scenario(run={"duration": 10.0, "warmup": 0.0, "time_scale": 0.05},
                            queue={"backend": url}), None)
    w.controls.mode_actions[LIVE].trigger()
    return url


async def _asked(w: MainWindow) -> object:
    w.toggle_run()
    await wait_until(lambda: w.found_dialog is not None and w.found_dialog.isVisible(),
                     what="the question")
    d = w.found_dialog
    assert d is not None
    assert FOUND in d.text() and f"Purge: delete {FOUND} for good" in d.informativeText()
    assert d.purge_button.text() == f"Purge: delete these {WAITING + DEAD}"
    assert w.runner.engine is not None and w.runner.engine.state == RunState.IDLE
    return d


async def test_cancel_touches_nothing_and_the_next_start_asks_again(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    url = await _setup(w, tmp_path)
    d = await _asked(w)
    asked = w.runner.engine
    d.cancel_button.click()  # type: ignore[attr-defined]
    await wait_until(lambda: not w.runner.asking, what="the answer")
    await wait_until(lambda: not asked.opened, what="the let-go engine's queue closed")  # type: ignore[union-attr]
    assert w.runner.engine is not None and w.runner.engine.state == RunState.IDLE
    assert await _counts(url) == (WAITING, DEAD)
    d = await _asked(w)  # asked again, not started behind the person's back
    asked = w.runner.engine
    d.cancel_button.click()  # type: ignore[attr-defined]
    await wait_until(lambda: not asked.opened, what="the let-go engine's queue closed")  # type: ignore[union-attr]


async def test_work_them_off_carries_them_over_in_the_books(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    await _setup(w, tmp_path)
    d = await _asked(w)
    d.keep_button.click()  # type: ignore[attr-defined]
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.state == RunState.FINISHED, timeout=30, what="the end")
    w.refresh()
    totals = engine.totals()
    assert totals.carried_over == WAITING + DEAD and totals.balanced
    assert f"carried over {WAITING + DEAD}" in w.totals.text()


async def test_purge_deletes_what_it_named_then_runs(window: MainWindow,
                                                      tmp_path: Path) -> None:
    w = window
    url = await _setup(w, tmp_path)
    d = await _asked(w)
    d.purge_button.click()  # type: ignore[attr-defined]
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.state == RunState.FINISHED, timeout=30, what="the end")
    assert engine.totals().carried_over == 0
    assert engine.purged is not None and engine.purged.describe() == FOUND  # type: ignore[attr-defined]
    assert (await _counts(url))[1] == engine.totals().dead_lettered


async def test_a_fresh_queue_leaves_the_old_one_as_it_was(window: MainWindow,
                                                           tmp_path: Path) -> None:
    w = window
    url = await _setup(w, tmp_path)
    d = await _asked(w)
    d.fresh_button.click()  # type: ignore[attr-defined]
    await wait_until(lambda: w.runner.engine is not None
                     and w.runner.engine.state == RunState.FINISHED, timeout=30,
                     what="the run on the fresh queue")
    fresh = w.scenario.queue.backend
    assert queue_name(fresh) != queue_name(url) and queue_name(fresh).startswith(
        queue_name(url) + "-")
    assert w.runner.engine.totals().carried_over == 0  # type: ignore[union-attr]
    assert await _counts(url) == (WAITING, DEAD)


async def test_a_shared_queue_is_said_and_its_theory_hidden(window: MainWindow,
                                                           tmp_path: Path) -> None:
    """A worker beside the window's run (its own connection to the SQLite file, as another
    process would be): the window says the queue is shared and shows no Erlang C."""
    from queuelab.runtime.engine import LiveEngine

    w = window
    if unavailable_reason(LIVE) is not None:
        pytest.skip("this build has no live engine")
    url = f"sqlite:///{tmp_path / 'jobs.db'}?queue=shared-{uuid.uuid4().hex[:8]}"
    s = scenario(run={"duration": 60.0, "warmup": 0.0, "time_scale": 0.05},
                 arrivals={"rate": 3.0}, service={"mean": 1.0}, queue={"backend": url})
    worker = LiveEngine(s, produce=False, duration=1e9)
    await worker.open()
    worker.start()
    try:
        w.set_scenario(s, None)
        w.controls.mode_actions[LIVE].trigger()
        assert w.plots.reference_shown  # M/M/4: Erlang C's lines, until the queue is shared
        w.tabs.setCurrentIndex(w.tabs.indexOf(w.theory))
        w.toggle_run()
        engine = w.runner.engine
        assert engine is not None
        await wait_until(lambda: engine.shared is not None, timeout=30, what="sharing noticed")
        await wait_until(lambda: not w.plots.reference_shown, what="the theory lines gone")
        await wait_until(lambda: "Other processes serve this queue" in w.theory.headline.text(),
                         what="the Theory tab saying why")
        assert "This queue is shared" in w.message.text()
        assert engine.totals().shared and "taken by other processes" in w.totals.text()
        w.toggle_run()  # pause; the window lets it go at the end of the test
    finally:
        await worker.stop(drain=False)
        await worker.aclose()
