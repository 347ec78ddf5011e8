"""Bulk reprocess on RabbitMQ: batched writes and `multiple` acks lose and double nothing.

The dead-letter store moves tasks in one transaction written in large chunks (see
`queuelab.backends.amqp.dead`). These tests count and name every task before and after: a
bulk reprocess with gaps (so both the `multiple` ack and the single acks are used), and one
whose connection is cut between two chunks (every task must still be exactly once a dead
letter or a ready task), and dead letters with and without the headers that let a
reprocess skip decoding. `acks` itself is checked as a rule on random tag sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from queuelab.backends import BackendError, open_queue
from queuelab.backends.amqp import AmqpQueue
from queuelab.backends.amqp import dead as dead_module
from queuelab.backends.amqp.dead import acks
from queuelab.backends.amqp.link import Outgoing
from queuelab.backends.amqp.wire import dead_properties, encode_dead, new_message_id
from queuelab.backends.base import Delivery, TaskQueue
from queuelab.core.task import DeadLetter, DeadLetterQuery, Task

from .conftest import AMQP_URL, RUN
from .relay import TcpRelay
from .test_amqp_faults import rabbitmq


@given(st.sets(st.integers(1, 60), max_size=40), st.data())
def test_acks_settle_exactly_the_wanted_tags(held: set[int], data: st.DataObject) -> None:
    wanted = data.draw(st.sets(st.sampled_from(sorted(held))) if held else st.just(set()))
    settled: set[int] = set()
    for frame in acks(held, wanted):
        tag = frame.delivery_tag
        assert tag in held and tag not in settled
        settled |= {t for t in held if t <= tag} if frame.multiple else {tag}
    assert settled == wanted


@pytest_asyncio.fixture
async def queue() -> AsyncIterator[str]:
    """A queue name of this test's own; its broker objects are deleted afterwards."""
    made = f"reprocess-{RUN}-{secrets.token_hex(3)}"
    yield made
    await open_queue(AMQP_URL, queue=made).destroy()  # type: ignore[attr-defined]


async def bury(q: TaskQueue, n: int) -> list[str]:
    ids = [f"t{i:05d}" for i in range(n)]
    await q.enqueue_many(Task(i, payload={"i": i}) for i in ids)
    left = n
    while left:
        got = await q.claim(600.0, max_tasks=min(left, 500), timeout=10.0)
        assert got, f"{left} tasks did not come back"
        await asyncio.gather(*(q.dead_letter(d, "Test", "on purpose", 1.0) for d in got))
        left -= len(got)
    return ids


async def claim_all(q: TaskQueue, n: int) -> list[Delivery]:
    got: list[Delivery] = []
    while len(got) < n:
        more = await q.claim(600.0, max_tasks=n - len(got), timeout=10.0)
        assert more, f"{n - len(got)} tasks did not come"
        got += more
    return got


async def bury_claimed(q: TaskQueue, got: list[Delivery]) -> None:
    await asyncio.gather(*(q.dead_letter(d, "Test", "on purpose", 1.0) for d in got))


async def all_dead(q: TaskQueue) -> list[str]:
    page = await q.dead_letters(DeadLetterQuery(limit=100_000))
    return [d.id for d in page.items]


async def drain(q: TaskQueue, expect: int) -> list[str]:
    """Claim and ack every ready task (ids in claim order), until `expect` or 3 s of none."""
    ids: list[str] = []
    while True:
        got = await q.claim(60.0, max_tasks=500, timeout=3.0 if len(ids) < expect else 0.5)
        if not got:
            return ids
        ids += [d.task.id for d in got]
        await asyncio.gather(*(q.ack(d) for d in got))


@pytest.mark.asyncio
@rabbitmq
async def test_a_bulk_reprocess_with_gaps_moves_each_task_once(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dead_module, "_CHUNK_BYTES", 20_000)  # many writes, by size
    q = open_queue(AMQP_URL, queue=queue)
    try:
        ids = await bury(q, 5000)
        chosen = [i for k, i in enumerate(ids) if k % 7 != 3]  # gaps: single acks too
        assert await q.reprocess([*chosen, *chosen[:50], "no-such-task"]) == len(chosen)
        counts = await q.counts()
        assert (counts.ready, counts.dead) == (len(chosen), len(ids) - len(chosen))
        left = await all_dead(q)
        assert sorted(left) == sorted(set(ids) - set(chosen))
        back = await drain(q, len(chosen))
        assert Counter(back) == Counter(chosen)  # nothing lost, nothing twice
        assert await q.reprocess(left) == len(left)
        assert Counter(await drain(q, len(left))) == Counter(left)
        assert (await q.counts()).total == 0
    finally:
        await q.close()


@pytest.mark.asyncio
@rabbitmq
async def test_a_reprocess_cut_between_chunks_leaves_every_task_once(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = TcpRelay(5672)
    await relay.start()
    via = (f"amqp://guest:guest@127.0.0.1:{relay.port}/?queue={queue}"
           "&publish_timeout=2&reconnect_interval=0.2")
    q = open_queue(via)
    direct = open_queue(AMQP_URL, queue=queue)
    real_write = dead_module._write
    writes = 0

    async def cut_after_the_first_chunk(ch: object, frames: list) -> None:  # type: ignore[type-arg]
        nonlocal writes
        writes += 1
        if writes == 2:
            await relay.cut()  # the first chunk reached the broker, the rest never will
        await real_write(ch, frames)  # type: ignore[arg-type]

    monkeypatch.setattr(dead_module, "_CHUNK", 500)
    monkeypatch.setattr(dead_module, "_write", cut_after_the_first_chunk)
    try:
        ids = await bury(q, 2000)
        with pytest.raises(BackendError, match="dropped during reprocess"):
            await q.reprocess(ids)
        assert writes >= 2
        await q.close()
        deadline = asyncio.get_running_loop().time() + 30.0
        while (c := await direct.counts()).dead + c.ready != len(ids):
            assert asyncio.get_running_loop().time() < deadline, c
            await asyncio.sleep(0.1)
        dead, ready = await all_dead(direct), await drain(direct, c.ready)
        assert Counter(dead + ready) == Counter(ids)  # each task exactly once
        assert ready == []  # the transaction was never committed: nothing moved
    finally:
        await q.close()
        await direct.close()
        with contextlib.suppress(Exception):
            await relay.cut()


@pytest.mark.asyncio
@rabbitmq
async def test_dead_letters_with_and_without_headers_come_back_whole(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dead letters this version wrote move as their task's bytes, never decoded; older ones
    (no headers) are decoded. Both come back whole, in their priority order."""
    q = open_queue(AMQP_URL, queue=queue, discipline="priority")
    assert isinstance(q, AmqpQueue)
    decoded: list[bytes] = []
    real_decode = dead_module.decode_dead

    def counting(body: bytes, *rest: object) -> DeadLetter:
        decoded.append(body)
        return real_decode(body, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(dead_module, "decode_dead", counting)
    try:
        sent = {f"n{i}": Task(f"n{i}", payload={"i": i, "s": 'é "x"'}, priority=i % 3)
                for i in range(20)}
        await q.enqueue_many(sent.values())
        await bury_claimed(q, await claim_all(q, len(sent)))
        for i in range(5):  # as an earlier version wrote them: no headers
            t = Task(f"o{i}", payload={"old": i}, priority=2, attempts=4)
            sent[t.id] = t
            body = encode_dead(DeadLetter(t, "Old", "before the headers", 1.0))
            await q._link.publish(  # type: ignore[union-attr]
                [Outgoing(q.names.dead, "", body, dead_properties(new_message_id()))])
        assert await q.reprocess(list(sent)) == len(sent)
        assert len(decoded) == 5  # the older five only
        back = await claim_all(q, len(sent))
        assert sorted(d.task.id for d in back) == sorted(sent)
        priorities = [d.task.priority for d in back]
        assert priorities == sorted(priorities, reverse=True)  # the AMQP priority came along
        for d in back:  # whole: every field as it was, one more attempt
            want = sent[d.task.id]
            assert (d.task.payload, d.task.priority) == (want.payload, want.priority)
            assert d.task.attempts == want.attempts + 1 + d.task.id.startswith("n")
        await bury_claimed(q, back)  # and reset attempts: the decoding way
        assert await q.reprocess(list(sent), reset_attempts=True) == len(sent)
        assert {d.task.attempts for d in await claim_all(q, len(sent))} == {1}
    finally:
        await q.close()
