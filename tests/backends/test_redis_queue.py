"""redis://: options, keys and orders that only the Redis backend has to get right."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from queuelab.backends import BackendError, open_queue
from queuelab.backends.redis_queue import RedisQueue
from queuelab.core.task import DeadLetterQuery, Task

from ..services import needs
from .contract import expect_counts, ids, task

URL = "redis://127.0.0.1:6379/0"
Make = Callable[..., Awaitable[RedisQueue]]


async def keys_of(name: str) -> list[bytes]:
    async with Redis(host="127.0.0.1", port=6379) as r:
        return sorted([k async for k in r.scan_iter(match=f"queuelab:{{{name}}}:*")])


@pytest_asyncio.fixture
async def make() -> AsyncIterator[Make]:
    """Open queues named for this test (`suffix` for a second name); purge them after."""
    opened: list[RedisQueue] = []
    base = f"rq-{uuid.uuid4().hex[:12]}"
    names: set[str] = set()

    async def _make(suffix: str = "", **options: object) -> RedisQueue:
        name = base + suffix
        names.add(name)
        q = open_queue(URL, queue=name, **options)
        assert isinstance(q, RedisQueue)
        await q.open()
        opened.append(q)
        return q

    try:
        yield _make
    finally:
        for q in opened:
            await q.close()
        for name in names:
            async with open_queue(URL, queue=name) as cleanup:
                await cleanup.purge()
            assert await keys_of(name) == []


# --- options, no server needed ------------------------------------------------------------
def test_options_are_checked() -> None:
    with pytest.raises(BackendError, match=r"does not know the option\(s\) disciplin; it knows"):
        open_queue(f"{URL}?disciplin=priority")
    with pytest.raises(BackendError, match="discipline must be one of fifo, priority"):
        open_queue(f"{URL}?discipline=lifo")
    with pytest.raises(BackendError, match="connect_timeout must be a number of seconds > 0"):
        open_queue(f"{URL}?connect_timeout=soon")
    with pytest.raises(BackendError, match="free of braces"):
        open_queue(f"{URL}?queue=a{{b}}")
    q = open_queue(f"{URL}?queue=jobs&discipline=priority", discipline="fifo")  # keywords win
    assert (q.name, q._wanted) == ("jobs", "fifo")  # type: ignore[attr-defined]
    assert open_queue("redis://").name == "default"  # type: ignore[attr-defined]


def test_the_url_shown_hides_the_password() -> None:
    q = open_queue("rediss://me:hunter2@127.0.0.1:6380/2?queue=x&password=hunter2")
    assert "hunter2" not in q.url
    assert q.url.startswith("rediss://me:***@127.0.0.1:6380/2")


# --- with the server ----------------------------------------------------------------------
pytestmark = [*needs("redis")]


@pytest.mark.asyncio
async def test_a_queue_keeps_the_discipline_it_was_made_with(make: Make) -> None:
    fifo = await make(discipline="fifo")  # opened, never used: nothing fixed yet
    prio = await make(discipline="priority")
    await prio.enqueue(task(1))  # the first task fixes the discipline
    with pytest.raises(BackendError, match="is a priority queue; open it with discipline=priority"):
        await fifo.enqueue(task(2))
    with pytest.raises(BackendError, match="is a priority queue; open it with discipline=priority"):
        await make(discipline="fifo")
    assert (await make()).discipline == "priority"  # named by nobody: the queue's own
    assert (await make("-new")).discipline == "fifo"


@pytest.mark.asyncio
async def test_keys_live_under_one_hash_tag_and_purge_takes_them_all(make: Make) -> None:
    q = await make(discipline="priority")
    keep = await make("-other")
    await keep.enqueue(task(1))
    await q.enqueue_many(task(n, priority=n % 3) for n in range(6))
    await q.enqueue(task(9), delay=60.0)
    a, b, _ = await q.claim(30.0, max_tasks=3)
    await q.ack(a)
    await q.dead_letter(b, "E", "x", at=1.0)
    names = {k.decode().rsplit(":", 1)[1] for k in await keys_of(q.name)}
    assert names == {
        "tasks", "attempts", "prio", "ready", "delayed", "leased", "tokens", "dead",
        "dead_at", "dead_kinds", "seq", "lanes", "meta",
    }  # fmt: skip
    await q.purge()
    assert await keys_of(q.name) == []
    await expect_counts(keep, ready=1)  # another queue is untouched


@pytest.mark.asyncio
async def test_close_takes_its_lane_records_with_it(make: Make) -> None:
    q = await make()
    other = await make()
    await q.enqueue_many(task(n) for n in range(3))
    await asyncio.gather(*(q.claim(30.0) for _ in range(3)))
    await other.enqueue(task(7))
    async with Redis(host="127.0.0.1", port=6379) as r:
        lanes = f"queuelab:{{{q.name}}}:lanes"
        assert await r.hlen(lanes) >= 2
        await q.close()
        left = await r.hkeys(lanes)
    assert left and all(not k.decode().startswith(q._link.session) for k in left)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("discipline", "expected"),
    [("fifo", ["t1", "t2", "t3"]), ("priority", ["t3", "t1", "t2"])],
)
async def test_an_expired_task_goes_first_in_its_level(
    make: Make, discipline: str, expected: list[str]
) -> None:
    q = await make(discipline=discipline)
    await q.enqueue(task(1, priority=1))
    await q.claim(0.3)
    await q.enqueue(task(2, priority=1))
    await q.enqueue(task(3, priority=2))
    await asyncio.sleep(0.4)
    assert ids(await q.peek(3)) == expected
    got = await q.claim(5.0, max_tasks=3)
    assert ids(got) == expected and got[expected.index("t1")].task.attempts == 2


@pytest.mark.asyncio
async def test_a_retried_task_goes_to_the_back_of_its_level(make: Make) -> None:
    q = await make(discipline="priority")
    await q.enqueue_many([task(1, priority=1), task(2, priority=1), task(3, priority=0)])
    [d] = await q.claim(30.0)
    await q.nack(d)
    assert ids(await q.peek(3)) == ["t2", "t1", "t3"]


@pytest.mark.asyncio
async def test_refusals(make: Make) -> None:
    q = await make(discipline="priority")
    await q.enqueue(task(1))
    with pytest.raises(BackendError, match=r"id\(s\) t1 already in the queue"):
        await q.enqueue(task(1))
    with pytest.raises(ValueError, match="priorities must lie within"):
        await q.enqueue(Task("huge", priority=10**15))
    [d] = await q.claim(30.0)
    with pytest.raises(ValueError):
        await q.claim(0.0)
    with pytest.raises(ValueError):
        await q.extend(d, 0.0)
    await q.dead_letter(d, "E", "first", at=1.0)
    await q.enqueue(task(1))  # a caller bug: the id is reused while its dead letter exists
    [d] = await q.claim(30.0)
    with pytest.raises(BackendError, match="already dead-lettered"):
        await q.dead_letter(d, "E", "second", at=2.0)
    assert await q.reprocess(["t1"]) == 0  # a live task holds the id: not moved
    await expect_counts(q, leased=1, dead=1)
    many = [task(n) for n in range(2, 1200)]
    with pytest.raises(BackendError, match=r"id\(s\) t1, t2 already in the queue"):
        await q.enqueue_many([task(1), *many, task(2)])  # three chunks: all the rest go in
    await expect_counts(q, ready=1198, leased=1, dead=1)


@pytest.mark.asyncio
async def test_dead_letters_page_in_redis_like_the_filtered_path(make: Make) -> None:
    q = await make()
    n = 1200  # more than one chunk of the bulk operations
    await q.enqueue_many(task(i) for i in range(n))
    got = await q.claim(30.0, max_tasks=1000)
    got += await q.claim(30.0, max_tasks=1000)
    for d in got:
        i = d.task.payload["n"]
        await q.dead_letter(d, "Odd" if i % 2 else "Even", f"no {i}", at=float(n - i))

    fast = await q.dead_letters(DeadLetterQuery(offset=10, limit=5, descending=True))
    slow = await q.dead_letters(DeadLetterQuery(offset=10, limit=5, descending=True, text="no"))
    assert (
        [d.id for d in fast.items] == [d.id for d in slow.items] == [f"t{i}" for i in range(10, 15)]
    )
    assert (fast.total, fast.total_matching, fast.error_kinds) == (n, n, ("Even", "Odd"))
    assert (await q.dead_letters(DeadLetterQuery(error_kind="Odd", limit=0))).total_matching == 600
    assert await q.reprocess([f"t{i}" for i in range(0, n, 2)], reset_attempts=True) == 600
    assert (await q.dead_letters()).error_kinds == ("Odd",)
    assert await q.discard([f"t{i}" for i in range(1, n, 2)]) == 600
    page = await q.dead_letters()
    assert (page.total, page.error_kinds) == (0, ())
    back = await q.claim(30.0, max_tasks=1000)
    assert len(back) == 600 and {d.task.attempts for d in back} == {1}


@pytest.mark.asyncio
async def test_connections_carry_the_queue_name(make: Make) -> None:
    q = await make()
    async with Redis(host="127.0.0.1", port=6379) as r:
        names = [c.get("name") for c in await r.client_list()]
    assert f"queuelab:{q.name}" in names


@pytest.mark.asyncio
async def test_a_closed_queue_refuses_and_its_waiters_return(make: Make) -> None:
    q = await make()
    waiter = asyncio.create_task(q.claim(30.0, timeout=None))
    await asyncio.sleep(0.1)
    await q.close()
    assert await asyncio.wait_for(waiter, 2.0) == []
    with pytest.raises(BackendError, match="is not open"):
        await q.enqueue(task(1))
    await q.open()  # and it can be opened again
    await expect_counts(q)


@pytest.mark.asyncio
async def test_looking_at_a_queue_leaves_nothing_behind(make: Make) -> None:
    """Opening, counting, peeking, paging and an empty claim write nothing (a connection
    test must not create a queue)."""
    q = await make(discipline="priority")
    await q.counts()
    assert await q.peek(3) == [] and await q.claim(30.0, timeout=0.1) == []
    assert (await q.dead_letters()).total == 0 and await q.get_dead_letter("x") is None
    await q.close()
    assert await keys_of(q.name) == []


@pytest.mark.asyncio
async def test_a_server_that_keeps_nothing_on_disk_is_named() -> None:
    """This machine's Redis runs with `--save "" --appendonly no`: a restart empties it.
    Before, nothing said so; now the queue's notices do (the app and the CLI show them)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        config = {**await client.config_get("save"), **await client.config_get("appendonly")}
    finally:
        await client.aclose()
    keeps = bool(config.get("save", "").strip()) or config.get("appendonly") == "yes"
    q = open_queue(f"redis://127.0.0.1:6379/0?queue=notices-{os.getpid()}")
    await q.open()
    try:
        notices = await q.notices()
    finally:
        await q.close()
    if keeps:
        assert notices == []
    else:
        assert len(notices) == 1 and "keeps nothing on disk" in notices[0]
        assert (await open_queue("memory://").notices()) == []
