"""A body that is not a task, written straight into each server, is dead-lettered as an
`UndecodableTask` with its raw text, and the claimer gets the tasks that do decode.

Before, such a body crashed the claim (SQLite, PostgreSQL, Redis; RabbitMQ on `null`): the
task stayed leased and every restart crashed on it again. The memory backend holds Task
objects, never bodies, so it has nothing to decode. Each case uses a queue of its own,
removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuelab.backends import open_queue
from queuelab.backends.base import TaskQueue
from queuelab.core.task import UNDECODABLE, Task, UndecodableTask
from queuelab.core.undecodable import RAW_LIMIT, raw_text, try_decode

from ..services import needs
from .conftest import AMQP_URL, POSTGRES_URL, RUN

REDIS_URL = "redis://127.0.0.1:6379/0"

#: the shapes the issue names, and a huge one (its raw text is kept bounded)
NAMED = [
    "not json",
    "null",
    "[1, 2]",
    '{"payload": 1}',
    '{"id": "x", "priority": "high"}',
    '{"id": "x", "history": 3}',
    '{"id": "x", "created_at": NaN}',
    '{"id": "' + "x" * (RAW_LIMIT * 2) + '"',
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
_task_like = st.dictionaries(
    st.sampled_from(["id", "priority", "created_at", "attempts", "poison", "history"]),
    _json,
    max_size=6,
)
#: text no server refuses to store (PostgreSQL's text has no NUL) that is not a task
malformed = (
    (_json | _task_like).map(json.dumps) | st.text(max_size=40)
).filter(lambda t: "\x00" not in t and isinstance(try_decode(t), UndecodableTask))


Planter = Callable[[TaskQueue, str, list[str]], Awaitable[list[str]]]


@dataclass(frozen=True)
class Server:
    """How to open a queue of its own on one server and write raw bodies into it."""

    url: str
    plant: Planter
    marks: tuple[pytest.MarkDecorator, ...] = ()


async def _enqueue_and_overwrite(q: TaskQueue, bodies: list[str]) -> list[str]:
    ids = [f"bad{i}" for i in range(len(bodies))]
    await q.enqueue_many([Task(i) for i in ids])  # first in line, ahead of the good one
    return ids


async def plant_sql_sqlite(q: TaskQueue, name: str, bodies: list[str]) -> list[str]:
    ids = await _enqueue_and_overwrite(q, bodies)
    path = q.url.removeprefix("sqlite:///").split("?")[0]
    with sqlite3.connect(path) as db:
        for i, body in zip(ids, bodies, strict=True):
            db.execute(
                "UPDATE queuelab_tasks SET task = ? WHERE queue = ? AND id = ?", (body, name, i)
            )
    return ids


async def plant_postgres(q: TaskQueue, name: str, bodies: list[str]) -> list[str]:
    import asyncpg

    ids = await _enqueue_and_overwrite(q, bodies)
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        for i, body in zip(ids, bodies, strict=True):
            await conn.execute(
                "UPDATE queuelab_tasks SET task = $1 WHERE queue = $2 AND id = $3", body, name, i
            )
    finally:
        await conn.close()
    return ids


async def plant_redis(q: TaskQueue, name: str, bodies: list[str]) -> list[str]:
    import redis.asyncio as redis

    ids = await _enqueue_and_overwrite(q, bodies)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for i, body in zip(ids, bodies, strict=True):
            await client.hset(f"queuelab:{{{name}}}:tasks", i, body)
    finally:
        await client.aclose()
    return ids


async def plant_amqp(q: TaskQueue, name: str, bodies: list[str]) -> list[str]:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    ids = []
    try:
        channel = await connection.channel()
        for n, body in enumerate(bodies):
            await channel.default_exchange.publish(
                aio_pika.Message(body.encode(), message_id=f"m{n}"),
                routing_key=q.names.main,  # type: ignore[attr-defined]
            )
            ids.append(f"amqp:m{n}")
    finally:
        await connection.close()
    return ids


def _sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'undecodable.db'}"


SERVERS = {
    "sqlite": Server("", plant_sql_sqlite),
    "postgresql": Server(POSTGRES_URL, plant_postgres, needs("postgres")),
    "redis": Server(REDIS_URL, plant_redis, needs("redis")),
    "amqp": Server(AMQP_URL, plant_amqp, needs("rabbitmq")),
}
PARAMS = [pytest.param(k, marks=s.marks, id=k) for k, s in SERVERS.items()]


async def _eventually(look: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """RabbitMQ dead-letters through the broker: the listing catches up, not at once."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not await look():
        assert loop.time() < end, "not dead-lettered in time"
        await asyncio.sleep(0.05)


async def run_case(kind: str, tmp: Path, bodies: list[str], discipline: str = "fifo") -> None:
    server = SERVERS[kind]
    url = server.url or _sqlite_url(tmp)
    name = f"undecodable-{RUN}-{secrets.token_hex(4)}"
    q = open_queue(url, queue=name, discipline=discipline)
    await q.open()
    try:
        ids = await server.plant(q, name, bodies)
        await q.enqueue(Task("good", payload={"ok": True}))
        # one claim of one task: every body ahead of it is buried, the good one comes back
        got = await q.claim(30.0, max_tasks=1, timeout=5.0)
        assert [d.task.id for d in got] == ["good"]
        await q.ack(got[0])

        async def all_dead() -> bool:
            return (await q.counts()).dead == len(bodies)

        await _eventually(all_dead)
        counts = await q.counts()
        assert (counts.ready, counts.delayed, counts.leased) == (0, 0, 0)
        page = await q.dead_letters()
        assert page.total == len(bodies)
        by_id = {d.id: d for d in page.items}
        assert sorted(by_id) == sorted(ids)
        for i, body in zip(ids, bodies, strict=True):
            dead = by_id[i]
            assert dead.error_kind == UNDECODABLE
            assert dead.error.startswith("not a task: ")
            text, size = raw_text(body)
            assert dead.task.payload == {"raw": text, "bytes": size}
        # a stand-in is an ordinary dead letter: it can be discarded by its id
        assert await q.discard(ids) == len(bodies)
    finally:
        if kind == "amqp":
            await q.destroy()  # type: ignore[attr-defined]
        else:
            await q.purge()
            await q.close()


@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("discipline", ["fifo", "priority"])
def test_the_named_shapes_are_dead_lettered_and_the_claim_goes_on(
    kind: str, discipline: str, tmp_path: Path
) -> None:
    asyncio.run(run_case(kind, tmp_path, NAMED, discipline))


@pytest.mark.parametrize("kind", PARAMS)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bodies=st.lists(malformed, min_size=1, max_size=4))
def test_any_malformed_body_is_dead_lettered(kind: str, tmp_path: Path, bodies: list[str]) -> None:
    asyncio.run(run_case(kind, tmp_path, bodies))
