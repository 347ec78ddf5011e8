"""sqlite:// and postgresql:// under stress: many workers, a worker process killed with
SIGKILL, two processes on one SQLite file, and a PostgreSQL restart in the middle of a run.
Each checks that every task is handled exactly once and nothing is left behind."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from queuelab.backends import LeaseLost, open_queue
from queuelab.backends.base import TaskQueue
from queuelab.core.task import Task

from ..services import disruptive, needs

PG = "postgresql://postgres@127.0.0.1:5432/test"
PG_MARKS = needs("postgres")


def needs_postgres(test: Any) -> Any:
    for mark in PG_MARKS:
        test = mark(test)
    return test


def tasks(n: int) -> list[Task]:
    return [Task(f"t{i}", payload={"i": i}) for i in range(n)]


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=PG_MARKS)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh queue: a SQLite file, or a queue of its own in PostgreSQL's `test` database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lab.db'}"
        return
    queue = f"durability-{os.getpid()}-{secrets.token_hex(3)}"
    yield f"{PG}?queue={queue}"
    async with open_queue(f"{PG}?queue={queue}") as q:
        await q.purge()


async def work_until_empty(
    queue: TaskQueue, done: list[str], lease: float = 30.0, lost: list[str] | None = None
) -> None:
    """Claim and ack until nothing is left anywhere (leased tasks included)."""
    while True:
        got = await queue.claim(lease, timeout=0.2)
        if not got:
            if (await queue.counts()).total == 0:
                return
            continue
        await asyncio.sleep(0)
        try:
            await queue.ack(got[0])
        except LeaseLost:
            if lost is None:
                raise
            lost.append(got[0].task.id)
            continue
        done.append(got[0].task.id)


# --- many workers ---------------------------------------------------------------------
@pytest.mark.asyncio
async def test_sixteen_workers_handle_each_task_once(url: str) -> None:
    """Sixteen workers, claiming 1 to 25 at a time and acking each task on its own."""
    n = 20_000 if url.startswith("postgresql") else 5_000
    async with open_queue(url) as q:
        await q.enqueue_many(tasks(n))
        done: list[str] = []

        async def worker(batch: int) -> None:
            while got := await q.claim(30.0, max_tasks=batch, timeout=0.0):
                await asyncio.gather(*(q.ack(d) for d in got))
                done.extend(d.task.id for d in got)

        await asyncio.wait_for(asyncio.gather(*(worker(1 + w % 4 * 8) for w in range(16))), 60)
        assert len(done) == n and len(set(done)) == n
        assert (await q.counts()).total == 0


CHILD = """
import asyncio, sys
from queuelab.backends import open_queue

async def main(url, mode):
    async with open_queue(url) as q:
        if mode == "crash":  # finish three tasks, then hold five and hang
            for _ in range(3):
                [d] = await q.claim(30.0, timeout=5.0)
                await q.ack(d)
                print("done", d.task.id, flush=True)
            held = await q.claim(1.0, max_tasks=5)
            print("holding", *[d.task.id for d in held], flush=True)
            await asyncio.sleep(3600)
        else:  # "work": eight workers until the queue is empty
            print("ready", flush=True)
            async def worker():
                while got := await q.claim(30.0, timeout=0.5):
                    await q.ack(got[0])
                    print("done", got[0].task.id, flush=True)
            await asyncio.gather(*(worker() for _ in range(8)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def spawn(url: str, mode: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, mode, stdout=subprocess.PIPE
    )


# --- a worker process dies ------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_worker_killed_mid_task_loses_nothing(url: str) -> None:
    async with open_queue(url) as q:
        await q.enqueue_many(tasks(20))
        child = await spawn(url, "crash")
        assert child.stdout is not None
        done: list[str] = []
        try:
            while True:
                line = (await asyncio.wait_for(child.stdout.readline(), 30)).decode().split()
                assert line, "the worker process ended early"
                if line[0] == "holding":
                    held = line[1:]
                    break
                done.append(line[1])
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        assert child.returncode == -signal.SIGKILL
        assert len(done) == 3 and len(held) == 5
        c = await q.counts()
        assert (c.ready, c.leased) in {(12, 5), (17, 0)}  # 17: its 1 s lease has run out
        again: dict[str, int] = {}
        while len(done) < 20:
            got = await q.claim(30.0, timeout=3.0)
            assert got, f"tasks never came back: {sorted(set(map(str, range(20))) - set(done))}"
            await q.ack(got[0])
            done.append(got[0].task.id)
            again[got[0].task.id] = got[0].task.attempts
        assert Counter(done) == Counter(f"t{i}" for i in range(20))  # each exactly once
        assert all(again[t] == 2 for t in held)  # the killed attempt counts
        assert (await q.counts()).total == 0


@pytest.mark.asyncio
async def test_two_processes_share_a_sqlite_file(tmp_path: Path) -> None:
    """Another process's writers only meet busy_timeout, never "database is locked"."""
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    async with open_queue(url) as q:
        await q.enqueue_many(tasks(3000))
        child = await spawn(url, "work")
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
        done: list[str] = []
        await asyncio.gather(*(work_until_empty(q, done) for _ in range(8)))
        out, _ = await asyncio.wait_for(child.communicate(), 30)
        assert child.returncode == 0
        theirs = [line.split()[1] for line in out.decode().splitlines()]
        assert theirs, "the other process did no work"
        assert Counter(done + theirs) == Counter(f"t{i}" for i in range(3000))


# --- the server restarts --------------------------------------------------------------
CLUSTER = sorted(Path("/etc/postgresql").glob("*/main"))


def pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    version = CLUSTER[-1].parent.name
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def wait_for_postgres(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", 5432)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise AssertionError("PostgreSQL did not come back")


@pytest.mark.disruptive
@disruptive()
@pytest.mark.asyncio
@pytest.mark.skipif(not CLUSTER, reason="no local PostgreSQL cluster to restart")
@needs_postgres
async def test_workers_ride_out_a_postgres_restart(caplog: pytest.LogCaptureFixture) -> None:
    """Restart the server under eight busy workers: they reconnect, and the totals add up
    (every task done exactly once; a claim whose reply was lost returns after its lease)."""
    queue = f"restart-{os.getpid()}-{secrets.token_hex(3)}"
    url = f"{PG}?queue={queue}&reconnect_timeout=60"
    n = 3000
    caplog.set_level(logging.WARNING, logger="queuelab.backends.sql")
    try:
        async with open_queue(url) as q:
            await q.enqueue_many(tasks(n))
            done: list[str] = []
            lost: list[str] = []

            async def slow_worker() -> None:
                while got := await q.claim(2.0, timeout=0.0):
                    # ~400 tasks/s: 7.5 s of work, longer than a restart takes (a quiet
                    # machine restarts PostgreSQL in ~2 s, as long as 1,600/s took for all)
                    await asyncio.sleep(0.02)
                    try:
                        await q.ack(got[0])
                    except LeaseLost:
                        lost.append(got[0].task.id)
                    else:
                        done.append(got[0].task.id)

            workers = [asyncio.create_task(slow_worker()) for _ in range(8)]
            while len(done) < n // 10:
                await asyncio.sleep(0.02)
            restarted = await asyncio.to_thread(pg_ctl, "restart")
            assert restarted.returncode == 0, restarted.stderr
            assert len(done) < n, "the run ended before the restart"
            await asyncio.wait_for(asyncio.gather(*workers), 60)
            await asyncio.wait_for(work_until_empty(q, done, lease=2.0, lost=lost), 60)
            assert "retrying" in caplog.text  # the workers did meet the restart
            assert Counter(done) == Counter(f"t{i}" for i in range(n)), f"lost acks: {lost}"
            assert (await q.counts()).total == 0
    finally:
        if pg_ctl("status").returncode != 0:  # leave the server running, whatever happened
            pg_ctl("start")
        await wait_for_postgres(60)
        async with open_queue(f"{PG}?queue={queue}") as q:
            await q.purge()
