"""A live run never destroys what its queue held: it carries it over, or purges when asked.

The queue is filled first as another program (or an earlier run) would leave it: tasks
with the ids an earlier run gives (`task_id(n)`, the same as this run's numbers), and dead
letters. The run must keep them, work them off and count them in its books.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from queuelab.backends import open_queue
from queuelab.backends.base import TaskQueue
from queuelab.cli import main
from queuelab.commands.worker import serve
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import DeadLetterQuery, Task
from queuelab.runtime.engine import LiveEngine
from queuelab.runtime.found import FoundTasks
from tests.runtime.helpers import run_to_end, scenario

WAITING, DEAD = 30, 3


async def _fill(queue: TaskQueue, first: int = 1) -> None:
    """WAITING ready tasks and DEAD dead letters numbered from `first`, as a program (or an
    earlier run: the same ids) leaves them."""
    n = WAITING + DEAD
    await queue.enqueue_many(Task(task_id(i), synthetic_payload(i, 0, 8), created_at=0.0)
                             for i in range(first, first + n))
    for d in await queue.claim(60.0, max_tasks=DEAD):
        await queue.dead_letter(d, "Refused", "left by an earlier program", 0.0)


def _url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'kept.db'}?queue=kept-{uuid.uuid4().hex[:8]}"


@pytest.mark.asyncio
async def test_a_run_works_off_what_its_queue_held_and_counts_it_as_carried_over(
        tmp_path: Path) -> None:
    url = _url(tmp_path)
    async with open_queue(url) as q:
        await _fill(q)
        left_dead = {d.task.id for d in (await q.dead_letters(_all())).items}
    s = scenario(run={"duration": 20.0, "warmup": 0.0, "time_scale": 0.05},
                 arrivals={"rate": 2.0}, service={"mean": 0.2}, queue={"backend": url},
                 pool={"workers": 4})
    engine = LiveEngine(s)
    await engine.open()
    assert engine.found == FoundTasks(waiting=WAITING, dead=DEAD)
    try:
        frames = await run_to_end(engine)  # balanced at every frame, audits clean
        totals = engine.totals()
        assert totals.carried_over == WAITING + DEAD
        assert frames[0].carried_over == WAITING + DEAD
        assert totals.done >= WAITING  # the found tasks were worked off too
        assert totals.created + totals.carried_over == (
            totals.waiting + totals.in_flight + totals.retrying + totals.done
            + totals.dead_lettered)
        page = await engine.dead_letters(_all())
        assert left_dead <= {d.task.id for d in page.items}  # nobody's dead letters deleted
        assert engine.purged is None
        # the found tasks' waits are on another run's clock: none of them is measured
        assert engine.summary().waits <= totals.created
    finally:
        await engine.aclose()


@pytest.mark.asyncio
async def test_purge_deletes_only_when_asked_and_says_what_it_deleted(tmp_path: Path) -> None:
    url = _url(tmp_path)
    async with open_queue(url) as q:
        await _fill(q)
    s = scenario(run={"duration": 2.0, "warmup": 0.0, "time_scale": 0.05},
                 queue={"backend": url})
    engine = LiveEngine(s, purge=True)
    await engine.open()
    try:
        assert engine.purged == FoundTasks(waiting=WAITING, dead=DEAD)
        assert not engine.found
        async with open_queue(url) as q:
            assert (await q.counts()).total == 0
    finally:
        await engine.aclose()


def test_the_cli_keeps_the_queue_unless_purge_is_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _url(tmp_path)

    async def fill(first: int) -> None:
        async with open_queue(url) as q:
            await _fill(q, first)

    asyncio.run(fill(1))
    args = ["run", "--engine", "live", "--backend", url, "--duration", "4",
            "--time-scale", "0.02", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert (f"holds {WAITING:,} waiting and {DEAD} dead letters: kept, worked off as part of "
            "this run (carried over; --purge deletes them instead)") in captured.err
    assert f"carried over {WAITING + DEAD}" in captured.out

    asyncio.run(fill(1000))
    assert main([*args, "--purge"]) == 0
    err = capsys.readouterr().err
    assert "held " in err and ": deleted (--purge)" in err


def _all() -> DeadLetterQuery:
    return DeadLetterQuery(limit=1000)


@pytest.mark.asyncio
async def test_a_worker_purges_only_with_purge_and_says_what_it_deleted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _url(tmp_path)
    async with open_queue(url) as q:
        await _fill(q)
    s = scenario(run={"time_scale": 0.01}, queue={"backend": url}, pool={"workers": 1})
    served = asyncio.create_task(serve(s, purge=True))
    err = ""
    for _ in range(500):
        await asyncio.sleep(0.01)
        captured = capsys.readouterr()
        err += captured.err
        if "Ctrl-C to stop" in captured.out:
            break
    os.kill(os.getpid(), signal.SIGINT)  # the worker's own handler: a graceful stop
    assert await asyncio.wait_for(served, 10.0) == 0
    err += capsys.readouterr().err
    assert f"held {WAITING} waiting and {DEAD} dead letters: deleted (--purge)" in err
    async with open_queue(url) as q:
        assert (await q.counts()).total == 0
