"""sqs://: what the contract cannot show - bad URLs, a wrong endpoint, SQS's 900 s delay
limit, foreign messages, and a live run whose SQS server stops and starts again.

Against a real local SQS server (moto's server mode), started here on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from queuelab.backends import BackendError, open_queue
from queuelab.backends.sqs import SqsQueue
from queuelab.runtime.engine import LiveEngine
from tests.runtime.helpers import run_to_end, scenario

from .contract import expect_counts, ids, task
from .sqs_server import free_port, moto_sqs


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_sqs() as url:
        yield url


@pytest_asyncio.fixture
async def queue(endpoint: str) -> AsyncIterator[SqsQueue]:
    q = open_queue(f"sqs://unit-{uuid.uuid4().hex[:12]}?endpoint={endpoint}")
    assert isinstance(q, SqsQueue)
    await q.open()
    try:
        yield q
    finally:
        await q.destroy()
        await q.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqs://jobs?colour=red", "does not know the option(s) colour"),
        ("sqs://jobs?discipline=lifo", "discipline must be one of fifo, priority"),
        ("sqs://jobs?endpoint=ftp://x", "endpoint must be http(s)://host[:port]"),
        ("sqs://bad name!", "queue must be 1-74 letters"),
        ("sqs://jobs?wait=30", "wait must be a whole number 1..20"),
    ],
)
def test_bad_urls_are_refused_naming_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(BackendError) as info:
        open_queue(url)
    assert message in str(info.value)


def test_credentials_in_the_url_are_refused_without_showing_them() -> None:
    with pytest.raises(BackendError) as info:
        open_queue("sqs://AKIAXX:s3cret@jobs")
    assert "s3cret" not in str(info.value) and "AWS chain" in str(info.value)


@pytest.mark.asyncio
async def test_a_wrong_endpoint_is_one_clear_line_within_seconds(endpoint: str) -> None:
    port = free_port()  # nothing listens there (`endpoint` only sets the test credentials)
    q = open_queue(
        f"sqs://jobs?endpoint=http://127.0.0.1:{port}&connect_timeout=1&reconnect_timeout=2"
    )
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        await q.open()
    message = str(info.value)
    assert f"cannot reach SQS at http://127.0.0.1:{port}" in message
    assert "\n" not in message and time.monotonic() - start < 15
    await q.close()


@pytest.mark.asyncio
async def test_an_unknown_queue_is_created_on_first_use(endpoint: str, queue: SqsQueue) -> None:
    await queue.enqueue(task(1))
    again = open_queue(f"sqs://{queue.options.queue}?endpoint={endpoint}")
    async with again:
        assert ids(await again.claim(30.0)) == ["t1"]


@pytest.mark.asyncio
async def test_a_delay_beyond_sqs_limit_is_sent_again_until_due(queue: SqsQueue) -> None:
    await queue.enqueue(task(1), delay=3600.0)  # SQS delays at most 900 s per message
    await expect_counts(queue, delayed=1)
    # A hop that came due early: the message SQS delivers once its 900 s are over, played by
    # sending one with the due time 2 s ahead and no delay.
    client = queue._link.client if queue._link else None
    assert client is not None
    due = time.time() + 2.0
    await client.send_message(
        QueueUrl=queue._delay_url,
        MessageBody=task(2).to_json(),
        MessageAttributes={"queuelab_due": {"DataType": "Number", "StringValue": f"{due}"}},
    )
    assert await queue.claim(30.0) == []  # received early: sent again with the rest
    await expect_counts(queue, delayed=2)
    [d] = await queue.claim(30.0, timeout=6.0)
    assert d.task.id == "t2" and d.task.attempts == 1 and time.time() >= due - 0.5
    await queue.ack(d)
    await expect_counts(queue, delayed=1)


@pytest.mark.asyncio
async def test_a_foreign_message_becomes_a_dead_letter(queue: SqsQueue) -> None:
    client = queue._link.client if queue._link else None
    assert client is not None
    await client.send_message(
        QueueUrl=queue._sources[0], MessageBody="not json",
        MessageGroupId="g", MessageDeduplicationId="d",
    )  # fmt: skip
    await queue.enqueue(task(1))
    assert ids(await queue.claim(30.0, max_tasks=5)) == ["t1"]
    [dead] = (await queue.dead_letters()).items
    assert dead.error_kind == "UndecodableMessage" and dead.task.payload == "not json"


@pytest.mark.asyncio
async def test_a_live_run_keeps_its_books_while_its_server_stops_and_starts() -> None:
    """The live engine over SQS; mid-run the server stops for two seconds and starts again
    on the same port (moto keeps its queues in this process). Every frame balances, the
    audits agree, and the queue holds what the books say at the end."""
    port = free_port()
    name = f"outage-{uuid.uuid4().hex[:12]}"
    url = f"sqs://{name}?endpoint=http://127.0.0.1:{port}&connect_timeout=1"
    s = scenario(
        run={"duration": 40.0, "warmup": 0.0, "time_scale": 0.5},
        arrivals={"rate": 2.0},
        service={"mean": 0.5},
        failures={"probability": 0.15, "poison_fraction": 0.05},
        retry={"max_attempts": 3, "base_delay": 2.0},
        queue={"backend": url},
        pool={"workers": 3},
    )
    server = moto_sqs(port)
    server.__enter__()
    engine = LiveEngine(s)
    await engine.open()
    queue = engine.queue
    assert isinstance(queue, SqsQueue)

    again = moto_sqs(port)

    async def outage() -> None:
        await asyncio.sleep(2.0)
        server.__exit__(None, None, None)
        during = asyncio.create_task(queue.counts())  # certain to meet the outage
        await asyncio.sleep(2.0)
        again.__enter__()
        await during  # ridden through: answered once the server was back

    cut = asyncio.create_task(outage())
    try:
        await run_to_end(engine)
        await cut
        totals = engine.totals()
        assert totals.done > 0.4 * totals.created
        link = queue._link
        # it did ride one out: tried again by the link, or by botocore inside a call that
        # then succeeded (which of the two depends on when the calls met the stopped server)
        assert link is not None and link.outages + link.retried > 0
        counts = await queue.counts()
        assert counts.leased == 0 and counts.dead == totals.dead_lettered
        assert counts.ready + counts.delayed == totals.waiting + totals.retrying
    finally:
        cut.cancel()
        await engine.aclose()
        again.__exit__(None, None, None)


@pytest.mark.asyncio
async def test_a_second_copy_of_a_held_message_is_not_handed_out_twice(
    queue: SqsQueue,
) -> None:
    """SQS may deliver a message again while it is held (moto does under concurrent
    receives). Played here by making the held message visible again: the next claim does
    not hand it out, and the holder's ack (with the newer receipt) removes it for good."""
    await queue.enqueue(task(1))
    [held] = await queue.claim(60.0)
    client = queue._link.client if queue._link else None
    assert client is not None
    await client.change_message_visibility(
        QueueUrl=queue._sources[0], ReceiptHandle=held.receipt.handle, VisibilityTimeout=0
    )
    assert await queue.claim(60.0) == []
    assert queue.duplicates == 1
    await queue.ack(held)
    await expect_counts(queue)
