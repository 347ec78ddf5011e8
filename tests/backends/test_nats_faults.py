"""nats://: what the contract cannot show - bad URLs, an unreachable server, JetStream's
MaxDeliver advisories, and a live run whose connection is cut mid-run (through a relay: the
shared NATS server itself is never stopped)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats.errors
import pytest
import pytest_asyncio

from queuelab.backends import BackendError, open_queue
from queuelab.backends.nats_queue import NatsQueue
from queuelab.runtime.engine import LiveEngine
from tests.runtime.helpers import run_to_end, scenario

from ..services import needs
from .contract import expect_counts, ids, task
from .relay import TcpRelay
from .sqs_server import free_port

pytestmark = [*needs("nats")]

@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nats://127.0.0.1:4222?colour=red", "does not know the option(s) colour"),
        ("nats://127.0.0.1:4222?discipline=lifo", "discipline must be one of fifo, priority"),
        ("nats://127.0.0.1:4222?queue=a.b", "queue must be 1-64 letters"),
        ("nats://127.0.0.1:4222?ack_wait=0", "ack_wait must be a number"),
        ("nats://?queue=x", "nats:// needs a host"),
    ],
)
def test_bad_urls_are_refused_naming_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(BackendError) as info:
        open_queue(url)
    assert message in str(info.value)


@pytest.mark.asyncio
async def test_an_unreachable_server_is_one_clear_line_without_the_password() -> None:
    port = free_port()
    q = open_queue(f"nats://user:s3cret@127.0.0.1:{port}?connect_timeout=1")
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        await q.open()
    text = str(info.value)
    assert "cannot reach the NATS server" in text and "s3cret" not in text and "\n" not in text
    assert time.monotonic() - start < 10


@pytest_asyncio.fixture
async def queue() -> AsyncIterator[NatsQueue]:
    q = open_queue(f"nats://127.0.0.1:4222?queue=faults-{uuid.uuid4().hex[:12]}&ack_wait=0.5"
                   "&max_deliver=2")
    assert isinstance(q, NatsQueue)
    await q.open()
    try:
        yield q
    finally:
        await q.destroy()
        await q.close()


@pytest.mark.asyncio
async def test_maxdeliver_moves_a_task_that_kills_its_workers_to_the_dead_letters(
    queue: NatsQueue,
) -> None:
    await queue.enqueue(task(1))
    for _ in range(2):  # two workers die holding it (their leases end by AckWait)
        [d] = await queue.claim(0.5, timeout=3.0)
        assert d.task.id == "t1"
        await asyncio.sleep(0.8)
    assert await queue.claim(30.0, timeout=1.5) == []  # JetStream gave up on it
    await expect_counts(queue, dead=1)
    dead = await queue.get_dead_letter("t1")
    assert dead is not None and dead.error_kind == "MaxDeliver" and dead.task.attempts == 2
    assert await queue.reprocess(["t1"], reset_attempts=True) == 1
    assert ids(await queue.claim(30.0, timeout=2.0)) == ["t1"]


def lose_sent(queue: NatsQueue, payload: bytes) -> list[bytes]:
    """Lose this process's outgoing `payload` messages (acks, in-progress acks) as a cut
    connection loses what was written just before the cut; the server is not touched.
    Returns the list of what was lost."""
    lost: list[bytes] = []
    send = queue._send

    async def lossy(subject: str, body: bytes) -> None:
        if body == payload:
            lost.append(body)
            return
        await send(subject, body)

    queue._send = lossy  # type: ignore[method-assign]
    return lost


@pytest.mark.asyncio
async def test_a_task_whose_ack_was_lost_is_not_run_again() -> None:
    """Acks go without waiting for an answer: one lost in a reconnection brings the
    message back after AckWait. This process settled it: it is acked again, not handed to
    a worker a second time (the books would count the task twice)."""
    q = open_queue(f"nats://127.0.0.1:4222?queue=ghost-{uuid.uuid4().hex[:12]}&ack_wait=0.5")
    assert isinstance(q, NatsQueue)
    await q.open()
    try:
        await q.enqueue(task(1))
        [d] = await q.claim(30.0)
        send = q._send
        lost = lose_sent(q, b"+ACK")
        await q.ack(d)
        assert lost == [b"+ACK"]
        q._send = send  # type: ignore[method-assign]
        await asyncio.sleep(1.0)  # AckWait passes: the server sends it again
        assert await q.claim(30.0, timeout=1.5) == []
        await expect_counts(q)
    finally:
        await q.destroy()
        await q.close()


def lose_first_pub_acks(queue: NatsQueue) -> list[dict[str, str]]:
    """The first try of every publish is stored by the server, but this process never reads
    its PubAck: what a connection cut between the two looks like from here (nats-py times
    out waiting). A retry, known by its message id, goes through. Only this queue's client
    is wrapped; the server is not touched. Returns the headers of every try."""
    assert queue._js is not None
    publish = queue._js.publish
    tries: list[dict[str, str]] = []

    async def ack_lost(subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
        headers = dict(kwargs.get("headers") or {})
        first = all(t.get("Nats-Msg-Id") != headers.get("Nats-Msg-Id") for t in tries)
        tries.append(headers)
        ack = await publish(subject, payload, **kwargs)
        if first:
            raise nats.errors.TimeoutError
        return ack

    queue._js.publish = ack_lost  # type: ignore[method-assign]
    return tries


@pytest.mark.asyncio
async def test_a_publish_whose_puback_was_lost_stores_the_task_once(queue: NatsQueue) -> None:
    """`_publish` tries again when no PubAck comes; the try that was stored and the retry
    carry one Nats-Msg-Id, so the stream keeps one message, and the duplicate PubAck is
    the publish's success (enqueue, a delayed nack and a dead letter alike)."""
    await queue.enqueue(task(2))
    [d] = await queue.claim(30.0)
    tries = lose_first_pub_acks(queue)
    await queue.enqueue(task(1))
    await queue.nack(d, delay=60.0)
    [again] = await queue.claim(30.0)
    assert again.task.id == "t1"
    await queue.dead_letter(again, "Boom", "it broke", 1.0)
    sent = [t.get("Nats-Msg-Id") for t in tries]
    assert len(sent) == 6 and sent[0::2] == sent[1::2]  # each publish: a try, a retry
    assert None not in sent and len(set(sent)) == 3  # one id kept across them, unique else
    await expect_counts(queue, delayed=1, dead=1)
    assert queue._js is not None
    info = await queue._js.stream_info(queue.stream)
    assert info.state.messages == 1  # t2, back with its delay (t1 went to the dead letters)
    assert ids((await queue.dead_letters()).items) == ["t1"]


@pytest.mark.asyncio
async def test_an_undecodable_message_redelivered_is_buried_once(queue: NatsQueue) -> None:
    """A message QueueLab cannot read is moved to the dead letters and acked; if that ack
    is lost, it comes back after AckWait and is buried again - under the same message id
    (its stream seq), so the dead letters hold it once."""
    assert queue._js is not None
    await queue._js.publish(queue.subjects[0], b"not json")
    send = queue._send
    lost = lose_sent(queue, b"+ACK")
    assert await queue.claim(30.0) == []  # buried, its ack lost
    queue._send = send  # type: ignore[method-assign]
    assert lost == [b"+ACK"]
    await asyncio.sleep(1.0)  # AckWait passes: the server sends it again
    assert await queue.claim(30.0, timeout=1.5) == []  # buried again, acked this time
    await expect_counts(queue, dead=1)
    [dead] = (await queue.dead_letters()).items
    assert dead.error_kind == "UndecodableMessage" and dead.task.payload == "not json"


@pytest.mark.asyncio
async def test_the_duplicate_window_covers_the_retries_of_a_publish() -> None:
    """A new stream remembers message ids for at least `reconnect_timeout` (JetStream's
    default 2 min otherwise); an existing stream whose window is too short for a handle's
    retries is widened, never narrowed."""
    name = f"window-{uuid.uuid4().hex[:12]}"
    first = open_queue(f"nats://127.0.0.1:4222?queue={name}")
    longer = open_queue(f"nats://127.0.0.1:4222?queue={name}&reconnect_timeout=600")
    assert isinstance(first, NatsQueue) and isinstance(longer, NatsQueue)
    await first.open()
    try:
        assert first._js is not None
        for stream in (first.stream, first.dead_stream):
            info = await first._js.stream_info(stream)
            assert info.config.duplicate_window == 120.0
        await longer.open()
        for stream in (first.stream, first.dead_stream):
            info = await first._js.stream_info(stream)
            window = float(info.config.duplicate_window or 0)
            assert window >= 600 + 2 * 2.0
        await first.close()
        await first.open()  # a shorter handle leaves the wider window alone
        info = await first._js.stream_info(first.stream)
        assert info.config.duplicate_window == window
    finally:
        await first.destroy()
        await first.close()
        await longer.close()


@pytest.mark.asyncio
async def test_a_task_held_here_is_not_handed_out_twice() -> None:
    """A redelivery of a task a worker of this process still holds (its in-progress acks
    lost, or a pull answered late after a reconnection) goes to no second worker; the
    holder's ack settles the newest delivery, so the task does not come back again."""
    q = open_queue(f"nats://127.0.0.1:4222?queue=held-{uuid.uuid4().hex[:12]}&ack_wait=0.5")
    assert isinstance(q, NatsQueue)
    await q.open()
    try:
        await q.enqueue(task(1))
        send = q._send
        lose_sent(q, b"+WPI")
        [d] = await q.claim(30.0)  # a 30 s lease on a 0.5 s AckWait: kept by +WPI, lost
        assert await q.claim(30.0, timeout=1.5) == []  # redelivered, and held here
        q._send = send  # type: ignore[method-assign]
        await q.ack(d)
        assert await q.claim(30.0, timeout=1.5) == []
        await expect_counts(q)
    finally:
        await q.destroy()
        await q.close()


@pytest.mark.asyncio
async def test_a_live_run_keeps_its_books_while_its_connection_is_cut() -> None:
    """The live engine over JetStream through a relay that is cut twice mid-run for a second:
    nats-py reconnects, every frame balances, the audits agree, and the streams hold what
    the books say at the end."""
    relay = TcpRelay(4222)
    await relay.start()
    name = f"outage-{uuid.uuid4().hex[:12]}"
    s = scenario(
        run={"duration": 40.0, "warmup": 0.0, "time_scale": 0.25},
        arrivals={"rate": 4.0},
        service={"mean": 0.3},
        failures={"probability": 0.15, "poison_fraction": 0.05},
        retry={"max_attempts": 3, "base_delay": 1.0},
        queue={"backend": f"nats://127.0.0.1:{relay.port}?queue={name}&ack_wait=2"},
        pool={"workers": 3},
    )
    engine = LiveEngine(s)
    await engine.open()
    queue = engine.queue
    assert isinstance(queue, NatsQueue)

    async def outages() -> None:
        for _ in range(2):
            await asyncio.sleep(1.2)
            await relay.cut()
            await asyncio.sleep(1.0)
            await relay.start()

    cut = asyncio.create_task(outages())
    try:
        await run_to_end(engine)
        await cut
        totals = engine.totals()
        assert queue.reconnects >= 1
        assert totals.done > 0.4 * totals.created
        counts = await queue.counts()
        assert counts.dead == totals.dead_lettered
        assert counts.ready + counts.delayed + counts.leased == totals.waiting + totals.retrying
    finally:
        cut.cancel()
        await queue.destroy()
        await engine.aclose()
