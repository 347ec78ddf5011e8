"""Redis sources against the real server, on layouts made by the real libraries (Celery's
kombu transport, RQ with a real worker process, QueueLab's own backend), and the read-only
proof: every key of the queue is byte-identical (DUMP) after a fast-polled hour."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from queuelab.core.monitoring import rates
from queuelab.sources import SourceError, open_source

from ..services import needs
from .helpers import PROOF_POLLS, read_many, read_until, unique

pytestmark = [*needs("redis")]

URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


def snapshot(r: redis.Redis, keys: list[bytes]) -> dict[bytes, tuple[bytes | None, int]]:
    """Every given key's serialized value and absolute expiry: equal means untouched."""
    return {k: (r.dump(k), r.execute_command("PEXPIRETIME", k)) for k in sorted(keys)}


def keys_of(r: redis.Redis, *patterns: str) -> list[bytes]:
    return sorted({k for p in patterns for k in r.scan_iter(match=p, count=1000)})


@pytest.fixture
def r() -> redis.Redis:
    client = redis.Redis.from_url(URL)
    yield client
    client.close()


# ------------------------------------------------------------------------------ Celery


def test_celery_layout_counts_priority_lists_and_unacked(r: redis.Redis) -> None:
    from celery import Celery
    from kombu import Connection

    q = unique("celery")
    app = Celery("monitor-test", broker=URL)
    app.conf.broker_transport_options = {"priority_steps": list(range(10))}
    try:
        for i in range(6):
            app.send_task("monitor.test.job", args=(i,), queue=q, priority=(0, 3, 6, 9)[i % 4])
        assert r.exists(f"{q}\x06\x166"), "kombu put priority 6 into its own sub-list"
        with Connection(URL) as conn:
            held = conn.SimpleQueue(q).get(block=True, timeout=5)  # unacked by a consumer
            s = asyncio.run(read_many(f"{URL}?queue={q}", 1))[0]
            assert (s.ready, s.in_flight) == (5, 1), s
            source = open_source(f"{URL}?queue={q}")
            assert source.layout is None
            before = snapshot(r, keys_of(r, f"{q}*", f"_kombu.binding.{q}"))
            mine = {k: v for k, v in r.hgetall("unacked").items() if q.encode() in v}
            samples = asyncio.run(read_many(f"{URL}?queue={q}", PROOF_POLLS))
            assert all((x.ready, x.in_flight) == (5, 1) for x in samples)
            after = snapshot(r, keys_of(r, f"{q}*", f"_kombu.binding.{q}"))
            assert after == before and len(before) >= 4
            assert {k: v for k, v in r.hgetall("unacked").items() if q.encode() in v} == mine
            held.ack()
    finally:
        for k in keys_of(r, f"{q}*", f"_kombu.binding.{q}"):
            r.delete(k)


# ------------------------------------------------------------------------------ RQ


def test_rq_layout_with_a_real_worker_counts_registries_and_completions(r: redis.Redis
                                                                        ) -> None:
    import rq

    q = unique("rq")
    queue = rq.Queue(q, connection=r)
    jobs = [queue.enqueue("tests.monitor.rq_jobs.broken"),
            queue.enqueue("tests.monitor.rq_jobs.quick"),
            queue.enqueue("tests.monitor.rq_jobs.slow", 8.0)]
    later = queue.enqueue_in(timedelta(hours=1), "tests.monitor.rq_jobs.quick")
    jobs += [later, queue.enqueue("tests.monitor.rq_jobs.quick", depends_on=later)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "-u", URL,
         "-w", "rq.SimpleWorker", q],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"{URL}?queue={q}"
    try:
        async def watch() -> None:
            source = open_source(url)
            await source.open()
            try:
                first = await read_until(source, lambda s: s.in_flight == 1, 60)
                assert source.method == "RQ layout on Redis"
                assert first.in_flight == 1 and first.consumers == 1, first
                jobs.extend([queue.enqueue("tests.monitor.rq_jobs.quick") for _ in range(2)])
                s = await source.read()
                assert (s.ready, s.in_flight, s.failed, s.delayed, s.consumers) == (
                    2, 1, 1, 2, 1), s
                assert s.completed == 1  # the worker's successful_job_count
                assert source.derivation.completion.startswith("Δ")
                time.sleep(0.5)
                later_s = await source.read()
                assert rates(s, later_s).arrival == 0.0  # nothing new: flow balance says 0
            finally:
                await source.close()

        asyncio.run(watch())
        keys = keys_of(r, f"rq:*{q}*", *(f"rq:job:{j.id}*" for j in jobs))
        before = snapshot(r, [k for k in keys if b":worker" not in k])
        worker.wait(timeout=240)  # it finishes the slow job and the two quick ones
        keys = keys_of(r, f"rq:*{q}*", *(f"rq:job:{j.id}*" for j in jobs))
        steady = snapshot(r, keys)
        asyncio.run(read_many(url, PROOF_POLLS))
        assert snapshot(r, keys) == steady and len(steady) >= 5
        assert before  # the first snapshot saw the layout too
        s = asyncio.run(read_many(url, 1))[0]
        assert (s.ready, s.in_flight, s.failed, s.consumers) == (0, 0, 1, 0), s
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for k in keys_of(r, f"rq:*{q}*", *(f"rq:*{j.id}*" for j in jobs)):
            r.delete(k)


# ------------------------------------------------------------------------------ QueueLab


def test_queuelab_layout_read_without_reaping(r: redis.Redis) -> None:
    from queuelab.backends import open_queue
    from queuelab.core.task import Task

    q = unique("ql")

    async def fill() -> None:
        async with open_queue(URL, queue=q) as queue:
            await queue.enqueue_many([Task(id=f"t{i}", created_at=0.0) for i in range(5)])
            held = await queue.claim(300.0, max_tasks=2)
            await queue.nack(held[0], delay=3600.0)
            await queue.dead_letter(held[1], error_kind="test", error="on purpose", at=0.0)
            await queue.claim(300.0)

    try:
        asyncio.run(fill())
        url = f"{URL}?queue={q}"
        before = snapshot(r, keys_of(r, f"queuelab:{{{q}}}:*"))
        samples = asyncio.run(read_many(url, PROOF_POLLS))
        assert snapshot(r, keys_of(r, f"queuelab:{{{q}}}:*")) == before
        s = samples[-1]
        assert (s.ready, s.in_flight, s.delayed, s.failed) == (2, 1, 1, 1), s
    finally:
        for k in keys_of(r, f"queuelab:{{{q}}}:*"):
            r.delete(k)


def test_queuelab_key_prefix_matches_the_backend() -> None:
    from queuelab.backends.redis_queue.keys import QueueKeys

    assert QueueKeys("jobs").prefix == "queuelab:{jobs}:"


# ------------------------------------------------------------------------------ faults


def test_unknown_queue_is_a_gap_that_looks_again(r: redis.Redis) -> None:
    q = unique("none")
    source = open_source(f"{URL}?queue={q}")

    async def go() -> None:
        await source.open()
        try:
            with pytest.raises(SourceError, match="no queue") as err:
                await source.read()
            assert not err.value.lasting
            r.rpush(q, b"{}")  # now a plain list: Celery's layout
            s = await source.read()
            assert s.ready == 1 and source.layout == "celery"
        finally:
            await source.close()
            r.delete(q)

    asyncio.run(go())


def test_ambiguous_layout_asks_which(r: redis.Redis) -> None:
    q = unique("both")
    r.rpush(q, b"{}")
    r.rpush(f"rq:queue:{q}", b"job")
    try:
        with pytest.raises(SourceError, match="layout=") as err:
            asyncio.run(read_many(f"{URL}?queue={q}", 1))
        assert err.value.lasting
        assert asyncio.run(read_many(f"{URL}?queue={q}&layout=rq", 1))[0].ready == 1
    finally:
        r.delete(q, f"rq:queue:{q}")


def test_wrong_password_and_unreachable_server_are_clear() -> None:
    with pytest.raises(SourceError) as err:
        asyncio.run(read_many("redis://nobody:sekrit@127.0.0.1:6379/0?queue=x", 1))
    assert "sekrit" not in str(err.value) and "password" in str(err.value).lower()
    with pytest.raises(SourceError, match="unreachable") as err:
        asyncio.run(read_many("redis://127.0.0.1:1/0?queue=x", 1))
    assert not err.value.lasting
