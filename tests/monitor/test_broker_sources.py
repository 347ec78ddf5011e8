"""Monitor sources for SQS (a local SQS server, moto's server mode) and NATS JetStream (the
shared server): plain queues and QueueLab's own layout, read without writing anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from queuelab.backends import open_queue
from queuelab.backends.nats_queue import NatsQueue
from queuelab.backends.sqs import SqsQueue
from queuelab.core.task import Task
from queuelab.sources import SourceError, open_source
from queuelab.sources.nats import queuelab_names as nats_names
from queuelab.sources.sqs import queuelab_names as sqs_names

from ..backends.sqs_server import moto_sqs
from ..services import needs


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_sqs() as url:
        yield url


async def _three_tasks_one_held_one_dead(url: str) -> None:
    q = open_queue(url)
    async with q:
        await q.enqueue_many(Task(f"t{n}", {}) for n in range(3))
        held, dead = await q.claim(60.0, max_tasks=2)
        await q.dead_letter(dead, "E", "x", at=1.0)
        assert held.task.id == "t0"


def test_the_names_agree_with_the_backends() -> None:
    sqs = open_queue("sqs://jobs?discipline=priority&levels=10")
    assert isinstance(sqs, SqsQueue)
    work, dead = sqs_names("jobs")
    assert {"jobs.fifo", "jobs-delay", "jobs-p0", "jobs-p9"} <= set(work) and dead == "jobs-dead"
    nats = open_queue("nats://127.0.0.1:4222?queue=jobs")
    assert isinstance(nats, NatsQueue)
    assert nats_names("jobs") == (nats.stream, nats.dead_stream, nats.dead_subject)


@pytest.mark.asyncio
async def test_sqs_queuelab_layout_and_a_plain_queue(endpoint: str) -> None:
    name = f"mon-{uuid.uuid4().hex[:10]}"
    await _three_tasks_one_held_one_dead(f"sqs://{name}?endpoint={endpoint}")
    source = open_source(f"sqs://{name}?endpoint={endpoint}&layout=queuelab")
    await source.open()
    try:
        s = await source.read()
        assert (s.ready, s.in_flight, s.delayed, s.failed) == (1, 1, 0, 1)
    finally:
        await source.close()
    plain = open_source(f"sqs://{name}-dead?endpoint={endpoint}")
    await plain.open()
    try:
        s = await plain.read()
        assert (s.ready, s.failed) == (1, None)
    finally:
        await plain.close()
    missing = open_source(f"sqs://nope-{name}?endpoint={endpoint}&layout=queuelab")
    await missing.open()
    try:
        with pytest.raises(SourceError, match="no QueueLab queue"):
            await missing.read()
    finally:
        await missing.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("_", [pytest.param(0, marks=needs("nats"))])
async def test_nats_queuelab_layout_and_counters(_: int) -> None:
    name = f"mon-{uuid.uuid4().hex[:10]}"
    url = f"nats://127.0.0.1:4222?queue={name}"
    await _three_tasks_one_held_one_dead(url)
    source = open_source(f"{url}&layout=queuelab")
    try:
        await source.open()
        s = await source.read()
        assert (s.ready, s.in_flight, s.failed, s.consumers) == (1, 1, 1, 1)
        assert s.arrived == 3 and s.completed == 1  # stored 3, one removed (the dead one)
        plain = open_source(f"nats://127.0.0.1:4222?queue=NOPE_{name}")
        await plain.open()
        with pytest.raises(SourceError, match="no stream"):
            await plain.read()
        await plain.close()
    finally:
        await source.close()
        q = open_queue(url)
        assert isinstance(q, NatsQueue)
        await q.destroy()
        await q.close()
