"""amqp:// against this machine's RabbitMQ: what the contract does not cover.

Prefetch as a live knob, priority levels, the delay ladder's timing, leases ending by time
inside a process, messages that are not tasks, and the bookkeeping shared by the handles of
one process. Each test uses queues of its own and deletes their broker objects afterwards.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest
import pytest_asyncio

from queuelab.backends import BackendError, open_queue
from queuelab.backends.amqp import AmqpQueue
from queuelab.backends.base import LeaseLost, QueueCounts
from queuelab.core.task import UNDECODABLE, Task

from ..services import needs
from .conftest import AMQP_URL, RUN

pytestmark = [*needs("rabbitmq"), pytest.mark.asyncio]

Opener = Callable[..., AmqpQueue]


@pytest_asyncio.fixture
async def opener() -> AsyncIterator[Opener]:
    """Open handles on queues of this test's own (one per `name`); closed and deleted after."""
    opened: list[AmqpQueue] = []
    names: dict[str, str] = {}

    def open_(name: str = "q", **options: object) -> AmqpQueue:
        queue = names.setdefault(name, f"broker-{RUN}-{name}-{secrets.token_hex(3)}")
        q = open_queue(AMQP_URL, queue=queue, **options)
        assert isinstance(q, AmqpQueue)
        opened.append(q)
        return q

    try:
        yield open_
    finally:
        for q in opened:
            await q.close()
        for queue in names.values():
            await open_queue(AMQP_URL, queue=queue).destroy()  # type: ignore[attr-defined]


def task(n: int, priority: int = 0) -> Task:
    return Task(f"t{n}", payload={"n": n}, priority=priority)


# --- prefetch ------------------------------------------------------------------------------
async def test_prefetch_bounds_what_a_handle_holds_and_changes_while_running(
    opener: Opener,
) -> None:
    q = opener(prefetch=2)
    await q.enqueue_many(task(n) for n in range(8))
    first = await q.claim(30.0, max_tasks=10)
    assert len(first) == 2  # leased + buffered never exceeds the prefetch
    assert await q.claim(30.0, timeout=0.2) == []
    assert await q.counts() == QueueCounts(ready=6, delayed=0, leased=2, dead=0)
    await q.set_prefetch(4)  # re-subscribes: the broker sends more at once
    more = await q.claim(30.0, max_tasks=10, timeout=2.0)
    # the new window: four more; the two running tasks finish outside it
    assert len(more) == 4 and q.prefetch == 4
    other = opener()  # another worker gets what this handle may not hold
    assert len(await other.claim(30.0, max_tasks=10, timeout=2.0)) == 2
    for d in first:
        await q.ack(d)  # settling the old window's tasks frees nothing in the new one
    await q.ack(more[0])  # a freed slot is filled by the broker, not by a round trip
    await asyncio.sleep(0.2)
    assert q._consumer is not None and q._consumer.buffered == 0  # nothing left to send
    await q.set_prefetch(1)  # down: what is prefetched and unclaimed goes back
    assert await q.counts() == QueueCounts(ready=0, delayed=0, leased=5, dead=0)
    with pytest.raises(ValueError):
        await q.set_prefetch(0)


async def test_a_prefetch_of_one_still_serves_many_workers_in_turn(opener: Opener) -> None:
    q = opener(prefetch=1)
    await q.enqueue_many(task(n) for n in range(20))
    done: list[str] = []

    async def worker() -> None:
        while got := await q.claim(30.0, timeout=0.3):
            done.append(got[0].task.id)
            await q.ack(got[0])

    await asyncio.gather(*(worker() for _ in range(4)))
    assert sorted(done) == sorted(f"t{n}" for n in range(20))


async def test_counts_right_after_acks_that_refill_the_prefetch_window(opener: Opener) -> None:
    """Before, counts right after acking a claimed batch counted ready up to 88 too many in a
    third of the rounds: the broker answers the count (queue.declare) ahead of acks still
    waiting in the queue's mailbox, then delivers the tasks those acks let through, which the
    count then found in this handle's buffer as well. Each round the acks refill the window."""
    q = opener(prefetch=100)
    n, batch = 2000, 100
    await q.enqueue_many(task(i) for i in range(n))
    left = n
    for _ in range(12):
        got = await q.claim(30.0, max_tasks=batch, timeout=5.0)
        assert len(got) == batch
        await q.ack_many(got)
        left -= batch
        assert await q.counts() == QueueCounts(ready=left, delayed=0, leased=0, dead=0)


# --- priorities --------------------------------------------------------------------------------
async def test_priorities_map_onto_ten_levels_and_prefetched_tasks_keep_the_order(
    opener: Opener,
) -> None:
    q = opener(discipline="priority")
    assert await q.claim(30.0) == []  # subscribed: what follows is pushed at once
    for n, p in enumerate([0, 12, -3, 5, 9]):
        await q.enqueue(task(n, priority=p))
    # 12 and 9 share level 9, -3 and 0 level 0: oldest first within a level
    assert [t.id for t in await q.peek(5)] == ["t1", "t4", "t3", "t0", "t2"]
    got = await q.claim(30.0, max_tasks=5)
    assert [d.task.id for d in got] == ["t1", "t4", "t3", "t0", "t2"]
    assert got[0].task.priority == 12  # the task keeps its own priority


async def test_another_discipline_on_an_existing_queue_is_refused(opener: Opener) -> None:
    await opener("shared").open()
    with pytest.raises(BackendError, match="another discipline"):
        await opener("shared", discipline="priority").open()


# --- the delay ladder ----------------------------------------------------------------------
async def test_a_retry_delay_is_served_on_time(opener: Opener) -> None:
    q = opener()
    await q.enqueue(task(1))
    [d] = await q.claim(30.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await q.nack(d, delay=0.45)
    assert await q.counts() == QueueCounts(ready=0, delayed=1, leased=0, dead=0)
    assert await q.claim(30.0, timeout=0.3) == []
    [again] = await q.claim(30.0, timeout=2.0)
    assert 0.44 <= loop.time() - start < 1.0
    assert again.task.attempts == 2


async def test_a_long_delay_is_counted_while_it_climbs_down_the_ladder(opener: Opener) -> None:
    q = opener()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await q.enqueue(task(1), delay=2.55)  # 255 ticks: through eight queues of the ladder
    await q.enqueue(task(2), delay=1.0)
    while loop.time() - start < 0.8:
        assert (await q.counts()).delayed == 2
        await asyncio.sleep(0.05)
    got = await q.claim(30.0, timeout=3.0)
    assert [d.task.id for d in got] == ["t2"]
    got = await q.claim(30.0, timeout=3.0)
    assert [d.task.id for d in got] == ["t1"]
    assert loop.time() - start >= 2.5
    assert await q.counts() == QueueCounts(ready=0, delayed=0, leased=2, dead=0)


# --- leases inside a process ---------------------------------------------------------------
async def test_a_lease_ends_by_time_in_a_live_process(opener: Opener) -> None:
    q = opener()
    await q.enqueue_many([task(1), task(2)])
    d1, d2 = await q.claim(0.3, max_tasks=2)
    await q.extend(d2, 30.0)
    await asyncio.sleep(0.5)
    with pytest.raises(LeaseLost):
        await q.ack(d1)  # its lease ran out: the task went back to the queue
    await q.ack(d2)  # extended: still held
    [again] = await q.claim(30.0, timeout=2.0)
    assert again.task.id == "t1" and again.task.attempts == 2


async def test_close_gives_back_prefetched_tasks_without_counting_an_attempt(
    opener: Opener,
) -> None:
    a = opener("same")
    await a.enqueue_many(task(n) for n in range(5))
    [held] = await a.claim(30.0)  # the other four sit in a's prefetch buffer
    assert held.task.id == "t0"
    b = opener("same")
    assert await b.counts() == QueueCounts(ready=4, delayed=0, leased=1, dead=0)
    await a.close()
    got = await b.claim(30.0, max_tasks=10, timeout=2.0)
    assert sorted((d.task.id, d.task.attempts) for d in got) == [
        ("t0", 2),
        ("t1", 1),
        ("t2", 1),
        ("t3", 1),
        ("t4", 1),
    ]


# --- messages that are not QueueLab's ------------------------------------------------------
async def test_foreign_and_broken_messages_end_up_as_dead_letters(opener: Opener) -> None:
    q = opener()
    await q.open()
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b"{not json", message_id="junk-1"), routing_key=q.names.main
        )
        await channel.default_exchange.publish(
            aio_pika.Message(json.dumps(task(7).to_dict()).encode()), routing_key=q.names.main
        )
        raw_queue = await channel.get_queue(q.names.main, ensure=False)
        first = await raw_queue.get(timeout=5)
        await first.reject(requeue=False)  # a foreign consumer refuses the undecodable one
        await q.enqueue(task(8))
    finally:
        await connection.close()
    got = await q.claim(30.0, max_tasks=5, timeout=1.0)
    assert [d.task.id for d in got] == ["t7", "t8"]
    page = await q.dead_letters()
    assert [(d.id, d.error_kind) for d in page.items] == [("amqp:junk-1", UNDECODABLE)]
    assert (await q.counts()).dead == 1
    assert await q.discard(["amqp:junk-1"]) == 1
    assert (await q.dead_letters()).total == 0


async def test_a_message_our_consumer_cannot_read_is_dead_lettered_by_the_broker(
    opener: Opener,
) -> None:
    q = opener()
    await q.open()
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b"[1, 2", message_id="junk-2"), routing_key=q.names.main
        )
    finally:
        await connection.close()
    await q.enqueue(task(1))
    got = await q.claim(30.0, max_tasks=5, timeout=1.0)
    assert [d.task.id for d in got] == ["t1"]  # the broken one was rejected to the DLX
    for _ in range(20):
        if (await q.dead_letters()).total:
            break
        await asyncio.sleep(0.05)
    dead = await q.get_dead_letter("amqp:junk-2")
    assert dead is not None and dead.error_kind == UNDECODABLE


async def test_a_dead_letter_whose_headers_lie_is_listed_as_its_body_reads(
    opener: Opener,
) -> None:
    """The headers that let a reprocess skip decoding name task h1, and the body starts as
    h1's would, but is no JSON: the listing shows what the body is (undecodable, under its
    message id), and that is the id it is discarded by."""
    q = opener()
    await q.open()
    task_json = b'{"id":"h1",broken}'
    body = b'{"task":' + task_json + b',"error_kind":"E"}'
    headers = {"queuelab-task-id": "h1", "queuelab-task-bytes": len(task_json)}
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(body, message_id="liar-1", headers=headers),  # type: ignore[arg-type]
            routing_key=q.names.dead,
        )
    finally:
        await connection.close()
    page = await q.dead_letters()
    assert [(d.id, d.error_kind) for d in page.items] == [("amqp:liar-1", UNDECODABLE)]
    assert await q.get_dead_letter("h1") is None
    assert await q.discard(["amqp:liar-1"]) == 1
    assert (await q.counts()).dead == 0


# --- handles of one process ------------------------------------------------------------------
async def test_handles_in_one_process_share_counts_and_dead_letters(opener: Opener) -> None:
    a, b = opener("same"), opener("same")
    await a.enqueue_many(task(n) for n in range(3))
    x, y = await a.claim(30.0, max_tasks=2)
    await a.dead_letter(y, "E", "boom", at=1.0)
    assert await b.counts() == QueueCounts(ready=1, delayed=0, leased=1, dead=1)
    assert (await a.dead_letters()).total == 1  # a now holds the dead-letter queue
    assert await b.reprocess([y.task.id]) == 1  # b works through a's reader
    assert await a.counts() == QueueCounts(ready=2, delayed=0, leased=1, dead=0)
    await b.ack(x)  # a receipt from a is settled through its own channel
    assert await a.counts() == QueueCounts(ready=2, delayed=0, leased=0, dead=0)


async def test_a_fresh_handle_lists_every_dead_letter_at_its_first_query(opener: Opener) -> None:
    """Before, the first listing of a fresh handle found a few hundred of 20,000: the broker
    streams a new subscription's messages, and the listing read what had come so far."""
    from queuelab.backends.amqp.wire import encode_dead, new_message_id
    from queuelab.core.task import DeadLetter

    q = opener()
    await q.open()
    n = 5000
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=False)
        for i in range(n):
            body = encode_dead(DeadLetter(task(i), "Boom", "failed", float(i)))
            await channel.default_exchange.publish(
                aio_pika.Message(body, message_id=new_message_id(), delivery_mode=2),
                routing_key=q.names.dead,
            )
        await channel.declare_queue(q.names.dead, passive=True)  # all published
    finally:
        await connection.close()
    await q.close()
    fresh = opener()
    page = await fresh.dead_letters()
    assert (page.total, page.total_matching) == (n, n)
    assert (await fresh.counts()).dead == n
    assert await fresh.get_dead_letter(f"t{n - 1}") is not None


_HOLDER = """
import asyncio, sys
from queuelab.backends import open_queue

async def main():
    q = open_queue(sys.argv[1], queue=sys.argv[2], prefetch=3)
    got = await q.claim(60.0, max_tasks=3, timeout=10.0)
    print(len(got), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_counts_see_the_leases_another_process_holds(opener: Opener) -> None:
    """Before, a process that did not consume counted 0 leased while another held tasks
    (the broker showed them unacknowledged): AMQP reports ready messages only. The
    management API's figure is sampled every few seconds, so the count is awaited."""
    import subprocess
    import sys

    q = opener()
    await q.enqueue_many(task(n) for n in range(10))
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "ignore", "-c", _HOLDER, AMQP_URL, q.options.queue,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), 30)
        assert line.strip() == b"3"
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while (counts := await q.counts()).leased != 3 and loop.time() < end:
            await asyncio.sleep(0.5)
        assert counts == QueueCounts(ready=7, delayed=0, leased=3, dead=0)
        # from the lagging statistics: said so, at the first call as at the last
        assert counts.approximate and "lag" in counts.caveat
        [d] = await q.claim(30.0)  # now this process consumes: its counts are its own
        mine = await q.counts()
        assert not mine.approximate and mine.caveat == ""
        await q.ack(d)
    finally:
        holder.kill()
        await holder.wait()
