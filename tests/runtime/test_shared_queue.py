"""A run that shares its queue with other workers says so, and its books are the backend's.

The README's recipe: `queuelab run` fills a SQLite queue that a `queuelab worker` serves too
(here: a worker-only engine on its own connection to the same file, as another process
would be); and two runs on one queue. Each run must notice the others (leases it does not
hold), keep balanced books whose places are the backend's counts, and drop the theory.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from queuelab.backends import open_queue
from queuelab.commands.run import books_dict, summary_dict
from queuelab.core.engine import RunState
from queuelab.runtime.engine import LiveEngine
from tests.runtime.helpers import scenario


def _mmc(url: str, workers: int = 2) -> dict[str, dict[str, object]]:
    # M/M/c at a load the run's own workers could not carry alone
    return {"run": {"duration": 60.0, "warmup": 0.0, "time_scale": 0.05},
            "arrivals": {"rate": 3.0}, "service": {"mean": 1.0},
            "queue": {"backend": url}, "pool": {"workers": workers}}


async def _watch(engine: LiveEngine) -> None:
    """Until the run is over, its books balance at every look."""
    while engine.state is not RunState.FINISHED:
        await asyncio.sleep(0.01)
        engine.totals().check()
    await engine.wait()


async def _backend_agrees(url: str, engine: LiveEngine) -> None:
    totals = engine.totals()
    async with open_queue(url) as q:
        counts = await q.counts()
    assert (counts.ready, counts.delayed, counts.leased, counts.dead) == (
        totals.waiting, totals.retrying, totals.in_flight, totals.dead_lettered)


@pytest.mark.asyncio
async def test_a_run_beside_a_worker_says_it_shares_its_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}?queue=recipe-{uuid.uuid4().hex[:8]}"
    s = scenario(**_mmc(url))
    worker = LiveEngine(scenario(**_mmc(url, workers=3)), produce=False, duration=1e9)
    run = LiveEngine(s)
    await worker.open()
    await run.open()
    worker.start()
    run.start()
    try:
        await _watch(run)
    finally:
        await worker.stop(drain=True)
    assert run.shared is not None and "this queue" in run.shared  # leases or tasks not its own
    assert run.reference() is None  # the window's theory lines and Theory tab read this
    assert worker.shared is not None
    totals = run.totals().check()
    assert totals.shared and totals.by_others > 0  # the worker's completions
    assert totals.done == run.context.ledger.done  # type: ignore[union-attr]
    assert run.audit_failures == []
    out = summary_dict(s, run.summary().as_dict(), "live", books_dict(totals, shared=run.shared),
                       shared=run.shared)
    assert out["erlang_c"] is None and "other processes serve this queue" in out[
        "not_mmc_because"]
    await run.aclose()
    await worker.aclose()


@pytest.mark.asyncio
async def test_two_runs_on_one_queue_keep_balanced_books(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}?queue=two-{uuid.uuid4().hex[:8]}"
    first = LiveEngine(scenario(**_mmc(url)))
    second = LiveEngine(scenario(**_mmc(url)))
    await first.open()
    first.start()
    await asyncio.sleep(0.5)  # the first run has a backlog by now
    await second.open()
    assert second.found  # and the second run finds it, keeps it
    second.start()
    await asyncio.gather(_watch(first), _watch(second))
    for engine in (first, second):
        assert engine.shared is not None, engine.shared
        engine.totals().check()
        assert engine.audit_failures == []
    assert second.totals().carried_over == second.found.total
    await _backend_agrees(url, second)  # counted after both runs' drains: nothing moves
    await first.aclose()
    await second.aclose()
