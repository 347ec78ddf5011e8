"""RabbitMQ sources against the real broker, on a queue Celery made and fed: the management
API (and its 401/404), the AMQP passive-declare fallback, and the read-only proof - the
queue's counters and messages and the vhost's queue list are unchanged after a fast-polled
hour through either path."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.error
import urllib.request

import pytest

from queuelab.sources import SourceError, open_source

from ..services import needs
from .helpers import PROOF_POLLS, read_many, read_until, unique

pytestmark = [*needs("rabbitmq")]

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
API = "http://127.0.0.1:15672"
STATS_INTERVAL = 5.5  # the management plugin refreshes its statistics every 5 s


def api(path: str) -> object:
    req = urllib.request.Request(API + path, headers={
        "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
    with urllib.request.urlopen(req, timeout=10) as reply:
        return json.loads(reply.read())


def queue_state(name: str) -> dict[str, object]:
    q = api(f"/api/queues/%2F/{name}")
    assert isinstance(q, dict)
    stats = q.get("message_stats") or {}
    # a queue's figures are absent until the management plugin has sampled it once
    return {
        "ready": q.get("messages_ready", 0), "unacked": q.get("messages_unacknowledged", 0),
        "consumers": q.get("consumers", 0),
        **{k: stats.get(k, 0) for k in ("publish", "deliver_get", "ack", "redeliver", "get",
                                         "get_no_ack", "deliver", "deliver_no_ack")},
    }


def queue_names(prefix: str) -> list[str]:
    rows = api("/api/queues/%2F?columns=name")
    assert isinstance(rows, list)
    return sorted(r["name"] for r in rows if r["name"].startswith(prefix))


@pytest.fixture(scope="module")
def management() -> None:
    try:
        api("/api/overview")
    except (urllib.error.URLError, OSError):
        pytest.fail("the RabbitMQ management API does not answer on 127.0.0.1:15672: "
                    "`rabbitmq-plugins enable rabbitmq_management` (.ci/run does it)")


@pytest.fixture
def celery_queue(management: None) -> object:
    """A queue Celery declared and published 5 tasks to; one of them held unacked."""
    from celery import Celery
    from kombu import Connection

    q = unique("celery")
    app = Celery("monitor-test", broker=AMQP.replace("%2F", "/"))
    for i in range(5):
        app.send_task("monitor.test.job", args=(i,), queue=q)
    conn = Connection(AMQP.replace("%2F", "/"))
    held = conn.default_channel.basic_get(q, no_ack=False)
    assert held is not None
    yield q
    conn.default_channel.queue_delete(q)
    conn.release()


def test_management_api_reads_a_celery_queue(celery_queue: str) -> None:
    q = celery_queue
    source = open_source(f"{AMQP}?queue={q}")

    async def go() -> None:
        await source.open()
        try:
            s = await read_until(source, lambda s: (s.ready, s.in_flight, s.arrived)
                                 == (4, 1, 5.0), 30)
            assert (s.ready, s.in_flight, s.consumers, s.arrived) == (4, 1, 0, 5.0), s
            assert source.method == "RabbitMQ management API"
            assert source.derivation.arrival == "reported by the server"
            assert s.arrival_rate is not None and s.completion_rate is not None
            listed = await source.list_queues()  # type: ignore[attr-defined]
            assert (q, 5, 0) in listed
        finally:
            await source.close()

    asyncio.run(go())


def test_read_only_proof_through_the_api_and_amqp(celery_queue: str) -> None:
    q = celery_queue
    deadline = time.monotonic() + 30
    while "messages_ready" not in api(f"/api/queues/%2F/{q}") and time.monotonic() < deadline:
        time.sleep(0.5)
    while queue_state(q)["publish"] != 5 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(STATS_INTERVAL)
    before, names = queue_state(q), queue_names("ql-mon-")
    api_samples = asyncio.run(read_many(f"{AMQP}?queue={q}", PROOF_POLLS))
    amqp_samples = asyncio.run(read_many(f"{AMQP}?queue={q}&via=amqp", PROOF_POLLS))
    time.sleep(STATS_INTERVAL)  # any get, ack or delivery would show in the next statistics
    assert queue_state(q) == before
    assert queue_names("ql-mon-") == names
    assert {(s.ready, s.in_flight) for s in api_samples} == {(4, 1)}
    assert {(s.ready, s.consumers) for s in amqp_samples} == {(4, 0)}
    assert all(s.in_flight is None for s in amqp_samples)  # AMQP cannot see it: not 0


def test_unreachable_api_falls_back_to_passive_declare_and_says_so(celery_queue: str
                                                                   ) -> None:
    source = open_source(f"{AMQP}?queue={celery_queue}&api=http://127.0.0.1:1")

    async def go() -> None:
        try:
            s = await source.read()
            assert s.ready == 4 and s.in_flight is None
            assert source.method.startswith("AMQP passive declare")
        finally:
            await source.close()

    asyncio.run(go())


def test_401_404_and_passive_404_create_nothing(management: None) -> None:
    q = unique("absent")
    with pytest.raises(SourceError, match="401") as err:
        asyncio.run(read_many(f"amqp://guest:wrong-sekrit@127.0.0.1/%2F?queue={q}", 1))
    assert "wrong-sekrit" not in str(err.value)
    with pytest.raises(SourceError, match="404") as err:
        asyncio.run(read_many(f"{AMQP}?queue={q}", 1))
    assert not err.value.lasting
    with pytest.raises(SourceError, match=r"404|NOT_FOUND"):
        asyncio.run(read_many(f"{AMQP}?queue={q}&via=amqp", 1))
    with pytest.raises(SourceError) as err:
        asyncio.run(read_many(f"amqp://guest:wrong-sekrit@127.0.0.1/%2F?queue={q}&via=amqp",
                              1))
    assert "wrong-sekrit" not in str(err.value)
    assert queue_names(q) == []  # neither path created the queue it looked for


def queuelab_state(q: str) -> dict[str, object]:
    """Every broker queue of QueueLab's AMQP queue `q`, by name: messages and counters."""
    names = queue_names(f"queuelab.{q}")
    return {n: queue_state(n) for n in names}


def test_queuelab_amqp_layout_and_its_read_only_proof(management: None) -> None:
    from queuelab.backends import open_queue
    from queuelab.core.task import Task

    q = unique("ql")

    async def fill() -> None:
        async with open_queue(AMQP, queue=q) as queue:
            await queue.enqueue_many([Task(id=f"t{i}", created_at=0.0) for i in range(5)])
            held = await queue.claim(300.0, max_tasks=2, timeout=10.0)
            assert len(held) == 2
            await queue.nack(held[0], delay=3600.0)  # into the delay ladder
            await queue.dead_letter(held[1], "test", "on purpose", 0.0)

    async def remove() -> None:
        queue = open_queue(AMQP, queue=q)
        await queue.destroy()

    asyncio.run(fill())
    try:
        url = f"{AMQP}?queue={q}&layout=queuelab"
        source = open_source(url)

        async def settled() -> None:
            await source.open()
            try:
                s = await read_until(source, lambda s: (s.ready, s.delayed, s.failed)
                                     == (3, 1, 1), 40)
                assert (s.ready, s.in_flight, s.delayed, s.failed) == (3, 0, 1, 1), s
            finally:
                await source.close()

        asyncio.run(settled())
        time.sleep(STATS_INTERVAL)
        before = queuelab_state(q)
        asyncio.run(read_many(url, PROOF_POLLS))
        asyncio.run(read_many(url + "&via=amqp", PROOF_POLLS))
        time.sleep(STATS_INTERVAL)
        assert queuelab_state(q) == before and len(before) >= 3
    finally:
        asyncio.run(remove())
