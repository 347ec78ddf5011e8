"""Throughput of each queue backend next to the raw client it is built on, in one run.

    .venv/bin/python bench/backends.py [--tasks 20000] [--backends memory] [--mode both]

For each backend and worker count W: enqueue N small tasks, then W workers claim + ack until
the queue is empty; the same work goes through the raw client (for memory: asyncio.Queue
put, then W consumers get + task_done). Both sides are timed alternately, best of
`--repeat`, because a shared machine's noise is larger than the differences measured; the
ratio is backend / raw (goal for memory: >= 0.5).

Two modes: `yield` workers await once per task, as any real handler does, which is what
lets W workers interleave at all; `tight` workers never yield, so W makes no difference
and the row is the pure per-task overhead of the queue.

Clocks: `wall` (default) is what a user waits for and the only honest one for server
backends, whose work happens in another process. `cpu` counts this process's CPU time
only: on a busy shared machine it is the steadier measure of an in-process queue's cost.

A backend plugs in as one `Bench` entry in `BENCHES`: its URL (opened with `open_queue`)
and a function doing the same work through its raw client.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queuelab.backends import open_queue
from queuelab.core.task import Task

Clock = Callable[[], float]
#: (tasks, workers, yield each task, clock) -> elapsed seconds on that clock
Runner = Callable[[list[Task], int, bool, Clock], Awaitable[float]]
CLOCKS: dict[str, Clock] = {"wall": time.perf_counter, "cpu": time.process_time}

LEASE = 60.0


async def raw_asyncio_queue(
    tasks: list[Task], workers: int, yield_each: bool, clock: Clock
) -> float:
    """asyncio.Queue: put every task, then W consumers get + task_done until a sentinel."""
    queue: asyncio.Queue[Task | None] = asyncio.Queue()

    async def consume() -> None:
        while True:
            item = await queue.get()
            queue.task_done()
            if item is None:
                return
            if yield_each:
                await asyncio.sleep(0)

    start = clock()
    for task in tasks:
        await queue.put(task)
    for _ in range(workers):
        await queue.put(None)
    await asyncio.gather(*(consume() for _ in range(workers)))
    return clock() - start


def through_backend(url: str) -> Runner:
    """The same work through QueueLab's TaskQueue opened from `url`: enqueue, claim + ack."""

    async def run(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
        async with open_queue(url) as queue:
            await queue.purge()

            async def work() -> None:
                while True:
                    got = await queue.claim(LEASE)
                    if not got:
                        return
                    await queue.ack(got[0])
                    if yield_each:
                        await asyncio.sleep(0)

            start = clock()
            for task in tasks:
                await queue.enqueue(task)
            await asyncio.gather(*(work() for _ in range(workers)))
            elapsed = clock() - start
            left = await queue.counts()
            if left.total:
                raise RuntimeError(f"{queue.url}: {left} left after the run")
            return elapsed

    return run


REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_QUEUE = "bench"


async def raw_redis_lua(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
    """redis-py alone, running QueueLab's own Lua scripts: EVALSHA enqueue per task, then W
    consumers EVALSHA claim + json.loads + EVALSHA ack until one finds nothing. The same
    commands and bytes on the wire; none of QueueLab's Python (tasks, deliveries, lanes,
    reconnect handling)."""
    import itertools
    import json

    from redis.asyncio import Redis

    from queuelab.backends.redis_queue import scripts as lua
    from queuelab.backends.redis_queue.keys import QueueKeys

    keys = QueueKeys("bench-raw")
    enqueue_keys, claim_keys, ack_keys = (
        keys.of(s.keys) for s in (lua.ENQUEUE, lua.CLAIM, lua.ACK)
    )
    channel, ops = keys.channel, itertools.count()
    client = Redis.from_url(REDIS_URL)
    try:
        await client.delete(*keys.all())
        for script in (lua.ENQUEUE, lua.CLAIM, lua.ACK):
            await client.script_load(script.source)

        async def consume(lane: str) -> None:
            while True:
                reply = await client.evalsha(
                    lua.CLAIM.sha, len(claim_keys), *claim_keys,
                    lane, next(ops), "0", channel, "1", LEASE, 1,
                )  # fmt: skip
                if len(reply) == 6:
                    return
                json.loads(reply[7])
                await client.evalsha(
                    lua.ACK.sha, len(ack_keys), *ack_keys,
                    lane, next(ops), "0", "1", reply[6], reply[4],
                )  # fmt: skip
                if yield_each:
                    await asyncio.sleep(0)

        start = clock()
        for task in tasks:
            await client.evalsha(
                lua.ENQUEUE.sha, len(enqueue_keys), *enqueue_keys,
                "raw:p", next(ops), "0", channel, "1", "0.0", task.id, task.to_json(), 0, "0",
            )  # fmt: skip
        await asyncio.gather(*(consume(f"raw:{w}") for w in range(workers)))
        elapsed = clock() - start
        # this side runs last in each round: it also removes the QueueLab side's queue
        await client.delete(*keys.all(), *QueueKeys(REDIS_QUEUE).all())
        return elapsed
    finally:
        await client.aclose()


AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
AMQP_QUEUE = "bench"


async def raw_aio_pika(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
    """aio-pika alone, as RabbitMQ's work-queue tutorial has it: persistent publishes to a
    durable queue, each confirmed, then W consumers (a channel each, prefetch 100, manual
    ack) json.loads + ack until every task is consumed. The same frames on the wire; none of
    QueueLab's Python (tasks, deliveries, leases, the buffer, redelivery bookkeeping)."""
    import json

    import aio_pika

    from queuelab.backends.amqp import AmqpQueue

    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()  # publisher confirms on
        queue = await channel.declare_queue("queuelab-bench-raw", durable=True)
        await queue.purge()
        bodies = [task.to_json().encode() for task in tasks]
        consumed = 0
        done = asyncio.Event()

        async def consume() -> None:
            nonlocal consumed
            ch = await connection.channel(publisher_confirms=False)
            await ch.set_qos(prefetch_count=100)
            source = await ch.get_queue(queue.name, ensure=False)
            async with source.iterator() as messages:
                async for message in messages:
                    json.loads(message.body)
                    await message.ack()
                    consumed += 1
                    if consumed == len(bodies):
                        done.set()
                    if yield_each:
                        await asyncio.sleep(0)

        start = clock()
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue.name,
            )
        consumers = [asyncio.create_task(consume()) for _ in range(workers)]
        await done.wait()
        elapsed = clock() - start
        for c in consumers:
            c.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        # this side runs last in each round: it also removes the QueueLab side's queue
        await queue.delete()
        theirs = open_queue(f"{AMQP_URL}?queue={AMQP_QUEUE}")
        assert isinstance(theirs, AmqpQueue)
        await theirs.destroy()
        return elapsed
    finally:
        await connection.close()


@dataclass(frozen=True)
class Bench:
    """One row family: a backend URL and the raw-client baseline it is compared with."""

    url: str
    raw: Runner
    raw_label: str
    backend: Runner | None = None  # the QueueLab side, if not `through_backend(url)`


# --- SQS: a local SQS server (moto_server, started here on a free 127.0.0.1 port) -------
# moto answers in time that grows with a queue's length: use a few hundred tasks (--tasks).
_SQS_ENDPOINT: list[str] = []


def sqs_endpoint() -> str:
    """The local SQS server's endpoint, started on first use and stopped at exit."""
    if not _SQS_ENDPOINT:
        import atexit
        import os
        import shutil
        import socket
        import subprocess

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # any key works locally
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mine = Path(sys.executable).parent / "moto_server"  # this environment's moto first
        exe = str(mine) if mine.exists() else (shutil.which("moto_server") or "moto_server")
        server = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(server.terminate)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        _SQS_ENDPOINT.append(f"http://127.0.0.1:{port}")
    return _SQS_ENDPOINT[0]


async def sqs_backend(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
    url = f"sqs://bench?endpoint={sqs_endpoint()}"
    return await through_backend(url)(tasks, workers, yield_each, clock)


async def raw_aiobotocore(
    tasks: list[Task], workers: int, yield_each: bool, clock: Clock
) -> float:
    """aiobotocore alone on a FIFO queue as QueueLab's fifo discipline uses one (a message
    group per message): SendMessage each task, then W consumers ReceiveMessage (1 message)
    + json.loads + DeleteMessage until the queue is empty. None of QueueLab's Python."""
    import json

    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    endpoint = sqs_endpoint()
    config = AioConfig(max_pool_connections=64)
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint, config=config
    ) as client:
        made = await client.create_queue(
            QueueName="bench-raw.fifo", Attributes={"FifoQueue": "true"}
        )
        url = made["QueueUrl"]

        async def consume() -> None:
            while True:
                got = await client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )  # fmt: skip
                messages = got.get("Messages", [])
                if not messages:
                    return
                json.loads(messages[0]["Body"])
                await client.delete_message(
                    QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"]
                )
                if yield_each:
                    await asyncio.sleep(0)

        start = clock()
        for n, task in enumerate(tasks):
            token = f"{start}-{n}"
            await client.send_message(
                QueueUrl=url, MessageBody=task.to_json(),
                MessageGroupId=token, MessageDeduplicationId=token,
            )  # fmt: skip
        await asyncio.gather(*(consume() for _ in range(workers)))
        return clock() - start


NATS_URL = "nats://127.0.0.1:4222"


async def nats_backend(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
    """QueueLab's side; its streams are deleted after the run."""
    from queuelab.backends.nats_queue import NatsQueue

    url = f"{NATS_URL}?queue=bench-{id(tasks)}"
    try:
        return await through_backend(url)(tasks, workers, yield_each, clock)
    finally:
        q = open_queue(url)
        assert isinstance(q, NatsQueue)
        await q.destroy()
        await q.close()


async def raw_nats(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
    """nats-py alone, as JetStream's work-queue examples have it: a work-queue stream and a
    durable pull consumer with explicit ack; each task published with its PubAck awaited,
    then W consumers fetch(1) + json.loads + ack until every task is consumed."""
    import json

    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

    nc = await nats.connect(NATS_URL)
    stream = f"BENCH_RAW_{id(tasks)}"
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(
            name=stream, subjects=[f"benchraw.{id(tasks)}"],
            retention=RetentionPolicy.WORK_QUEUE,
        ))  # fmt: skip
        await js.add_consumer(stream, ConsumerConfig(
            durable_name="raw", ack_policy=AckPolicy.EXPLICIT, ack_wait=60,
        ))  # fmt: skip
        consumed = 0
        done = asyncio.Event()

        async def consume() -> None:
            nonlocal consumed
            sub = await js.pull_subscribe_bind("raw", stream)
            while True:
                try:
                    [msg] = await sub.fetch(1, timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                json.loads(msg.data)
                await msg.ack()
                consumed += 1
                if consumed == len(tasks):
                    done.set()
                if yield_each:
                    await asyncio.sleep(0)

        start = clock()
        for task in tasks:
            await js.publish(f"benchraw.{id(tasks)}", task.to_json().encode())
        consumers = [asyncio.create_task(consume()) for _ in range(workers)]
        await done.wait()
        elapsed = clock() - start
        for c in consumers:
            c.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        return elapsed
    finally:
        await nc.jetstream().delete_stream(stream)
        await nc.close()


BENCHES: dict[str, Bench] = {
    "memory": Bench("memory://bench", raw_asyncio_queue, "asyncio.Queue"),
    "redis": Bench(f"{REDIS_URL}?queue={REDIS_QUEUE}", raw_redis_lua, "redis-py+Lua"),
    "amqp": Bench(f"{AMQP_URL}?queue={AMQP_QUEUE}", raw_aio_pika, "aio-pika"),
    "sqs": Bench("sqs://bench", raw_aiobotocore, "aiobotocore", sqs_backend),
    "nats": Bench(NATS_URL, raw_nats, "nats-py", nats_backend),
}


# --- SQL: sqlite:// and postgresql:// -----------------------------------------------------
# Claim + ack only, on both sides: the tasks are inserted before the clock starts, because
# with one commit per enqueue (an fsync on PostgreSQL) both sides would measure the disk.
# The raw loops run on QueueLab's own table (another queue name): same shape, same indexes.
# PostgreSQL: VACUUM ANALYZE after the insert (untimed, both sides), so a run measures a
# healthy table, not whatever bloat and statistics earlier runs left (autovacuum is off on
# the test machines).
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE_URL = f"sqlite:///{Path(tempfile.gettempdir()) / 'queuelab-bench.sqlite3'}"
SQL_BATCH = 100


def sql_claims(url: str, batch: int) -> Runner:
    """QueueLab's SQL queue: W workers claim up to `batch` and ack them (a batch with one
    `ack_many`) until it is empty."""

    async def run(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
        async with open_queue(f"{url}?queue=bench") as queue:
            await queue.purge()
            await queue.enqueue_many(tasks)
            await _tidy(url)

            async def work() -> None:
                while got := await queue.claim(LEASE, max_tasks=batch):
                    if batch == 1:
                        await queue.ack(got[0])
                    else:
                        await queue.ack_many(got)
                    if yield_each:
                        await asyncio.sleep(0)

            start = clock()
            await asyncio.gather(*(work() for _ in range(workers)))
            elapsed = clock() - start
            left = await queue.counts()
            if left.total:
                raise RuntimeError(f"{queue.url}: {left} left after the run")
            return elapsed

    return run


async def _fill_raw(url: str, tasks: list[Task]) -> None:
    async with open_queue(f"{url}?queue=bench-raw") as queue:
        await queue.purge()
        await queue.enqueue_many(tasks)
    await _tidy(url)


async def _tidy(url: str) -> None:
    if url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM ANALYZE queuelab_tasks")
        finally:
            await conn.close()


def raw_asyncpg(batch: int) -> Runner:
    """asyncpg alone, a connection per consumer: the textbook at-most-once
    `DELETE … WHERE seq IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) RETURNING task` plus
    json.loads, until a consumer finds nothing."""
    delete = (
        "DELETE FROM queuelab_tasks WHERE seq IN (SELECT seq FROM queuelab_tasks"
        " WHERE queue = 'bench-raw' AND ready_at <= $1 ORDER BY ready_at, seq LIMIT $2"
        " FOR UPDATE SKIP LOCKED) RETURNING task"
    )

    async def run(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
        import json

        import asyncpg

        await _fill_raw(PG_URL, tasks)
        conns = [await asyncpg.connect(PG_URL) for _ in range(workers)]

        async def consume(conn: asyncpg.Connection) -> None:
            while rows := await conn.fetch(delete, time.time(), batch):
                for row in rows:
                    json.loads(row[0])
                if yield_each:
                    await asyncio.sleep(0)

        try:
            start = clock()
            await asyncio.gather(*(consume(c) for c in conns))
            return clock() - start
        finally:
            for c in conns:
                await c.close()

    return run


def raw_aiosqlite(batch: int) -> Runner:
    """aiosqlite alone (WAL, synchronous=NORMAL, busy_timeout), the W consumers sharing one
    connection (measured: faster than one each): the same single-statement DELETE …
    RETURNING, plus json.loads, until a consumer finds nothing."""
    delete = (
        "DELETE FROM queuelab_tasks WHERE seq IN (SELECT seq FROM queuelab_tasks"
        " WHERE queue = 'bench-raw' AND ready_at <= ? ORDER BY ready_at, seq LIMIT ?)"
        " RETURNING task"
    )

    async def run(tasks: list[Task], workers: int, yield_each: bool, clock: Clock) -> float:
        import json

        import aiosqlite

        await _fill_raw(SQLITE_URL, tasks)
        path = SQLITE_URL.removeprefix("sqlite:///")
        # autocommit: each DELETE is its own transaction
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 5000"):
                await conn.execute(f"PRAGMA {pragma}")

            async def consume() -> None:
                while rows := await conn.execute_fetchall(delete, (time.time(), batch)):
                    for row in rows:
                        json.loads(row[0])
                    if yield_each:
                        await asyncio.sleep(0)

            start = clock()
            await asyncio.gather(*(consume() for _ in range(workers)))
            return clock() - start

    return run


def sql_benches(batch: int) -> dict[str, Bench]:
    """The SQL rows: single claims, and claims of up to `batch` (--batch) against the raw
    loop taking as many per statement."""
    return {
        "postgresql": Bench(PG_URL, raw_asyncpg(1), "asyncpg DELETE", sql_claims(PG_URL, 1)),
        "postgresql-batch": Bench(
            PG_URL, raw_asyncpg(batch), f"asyncpg ×{batch}", sql_claims(PG_URL, batch)
        ),
        "sqlite": Bench(SQLITE_URL, raw_aiosqlite(1), "aiosqlite DEL", sql_claims(SQLITE_URL, 1)),
        "sqlite-batch": Bench(
            SQLITE_URL, raw_aiosqlite(batch), f"aiosqlite ×{batch}", sql_claims(SQLITE_URL, batch)
        ),
    }


BENCHES.update(sql_benches(SQL_BATCH))


def make_tasks(n: int) -> list[Task]:
    """Small JSON-able tasks like the live engine's synthetic load."""
    return [Task(f"t{i}", payload={"n": i, "kind": "bench"}, created_at=i * 1e-3) for i in range(n)]


async def measure(
    bench: Bench, n: int, workers: int, yield_each: bool, repeat: int, clock: Clock
) -> tuple[float, float]:
    """Best tasks/s through the backend and through the raw client, timed alternately."""
    backend = bench.backend or through_backend(bench.url)
    best_backend = best_raw = float("inf")
    for _ in range(repeat):
        for which in ("backend", "raw"):
            tasks = make_tasks(n)
            gc.collect()
            if which == "backend":
                best_backend = min(best_backend, await backend(tasks, workers, yield_each, clock))
            else:
                best_raw = min(best_raw, await bench.raw(tasks, workers, yield_each, clock))
    return n / best_backend, n / best_raw


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per run (20000)")
    parser.add_argument(
        "--backends", default="memory", help=f"comma-separated, of: {', '.join(BENCHES)}"
    )
    parser.add_argument("--workers", default="1,4,16", help="comma-separated worker counts")
    parser.add_argument("--mode", choices=("yield", "tight", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side; best is kept")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument(
        "--batch", type=int, default=SQL_BATCH,
        help=f"tasks per claim in the *-batch rows, both sides ({SQL_BATCH})",
    )
    args = parser.parse_args(argv)
    BENCHES.update(sql_benches(args.batch))

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in names if b not in BENCHES]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    worker_counts = [int(w) for w in args.workers.split(",")]
    modes = ["yield", "tight"] if args.mode == "both" else [args.mode]

    print(
        f"{args.tasks} tasks per run, best of {args.repeat}, {args.clock} clock, "
        f"Python {sys.version.split()[0]}"
    )
    header = (
        f"{'backend':<17}{'raw client':<15}{'mode':<7}{'W':>3}"
        f"{'backend/s':>12}{'raw/s':>12}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        bench = BENCHES[name]
        for mode in modes:
            for workers in worker_counts:
                ours, raw = await measure(
                    bench, args.tasks, workers, mode == "yield", args.repeat, CLOCKS[args.clock]
                )
                print(
                    f"{name:<17}{bench.raw_label:<15}{mode:<7}{workers:>3}"
                    f"{ours:>12,.0f}{raw:>12,.0f}{ours / raw:>7.2f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
