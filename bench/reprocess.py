"""Speed of the rescue: reprocessing every dead letter, each backend beside SQLite.

    .venv/bin/python bench/reprocess.py [--tasks 100000] [--backends sqlite,postgresql,...]

For each backend and way: fill a queue of its own with N dead letters (enqueue, claim,
dead-letter; not timed), time the rescue, and check that all N are back in the queue. Two
ways: `pane` is what the dead-letter pane's "Reprocess all matching…" does - the app's own
`BulkAction` over the queue: page the dead letters oldest first, reprocess them in slices;
`call` is one `queue.reprocess(all ids)`, as a script would. The goal is every backend
within 3x of SQLite's time; the ratio column is backend / SQLite, `cpu` the seconds this
process spent (the rest is waiting for the server). The queues are removed after.

With amqp, a last line times what RabbitMQ alone needs for the move: N persistent
task-sized publishes in one transaction into a scratch queue, written as the reprocess
writes them (no reading, no QueueLab bookkeeping): no client can move N tasks faster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queuelab.backends import open_queue
from queuelab.backends.base import TaskQueue
from queuelab.core.task import DeadLetterQuery, Task
from queuelab.gui.dead_letter_actions import REPROCESS, BulkAction

URLS = {
    "memory": "memory://",
    "sqlite": "",  # a file of this run's own
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672/",
}
GOAL = 3.0


async def fill(q: TaskQueue, n: int) -> None:
    """N dead letters through the queue's own calls (claimed in batches, buried together)."""
    for start in range(0, n, 5000):
        await q.enqueue_many(
            Task(f"t{i:07d}", payload={"n": i}) for i in range(start, min(n, start + 5000))
        )
    left = n
    while left:
        got = await q.claim(600.0, max_tasks=min(left, 500), timeout=5.0)
        if not got:
            raise RuntimeError(f"{q.url}: {left} tasks did not come back to be dead-lettered")
        await asyncio.gather(*(q.dead_letter(d, "Bench", "failed on purpose", 1.0) for d in got))
        left -= len(got)


async def one(kind: str, url: str, n: int, way: str) -> tuple[float, float]:
    name = f"bench-reprocess-{os.getpid()}-{secrets.token_hex(3)}"
    q = open_queue(url, queue=name) if kind != "memory" else open_queue(f"memory://{name}")
    await q.open()
    try:
        began = time.perf_counter()
        await fill(q, n)
        print(f"  {kind}: {n:,} dead letters made in {time.perf_counter() - began:.1f} s",
              file=sys.stderr, flush=True)
        began, cpu = time.perf_counter(), time.process_time()
        if way == "pane":
            action = BulkAction(q, REPROCESS, query=DeadLetterQuery())  # type: ignore[arg-type]
            result = await action.run()
            acted, error = result.acted, result.error
        else:
            acted, error = await q.reprocess([f"t{i:07d}" for i in range(n)]), None
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        if error or acted != n:
            raise RuntimeError(f"{kind}: reprocessed {acted} of {n} ({error})")
        counts = await q.counts()
        if counts.ready + counts.delayed != n or counts.dead:
            raise RuntimeError(f"{kind}: after the rescue {counts}")
        return elapsed, cpu
    finally:
        destroy = getattr(q, "destroy", None)
        if destroy is not None:
            await destroy()
        else:
            await q.purge()
            await q.close()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="dead letters (100000)")
    parser.add_argument("--backends", default="sqlite,postgresql,redis,amqp")
    parser.add_argument("--ways", default="pane,call", help="pane, call or both (pane,call)")
    ns = parser.parse_args(argv)
    kinds = [k.strip() for k in ns.backends.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in URLS]
    if unknown:
        print(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(URLS)}",
              file=sys.stderr)
        return 2
    if "sqlite" not in kinds:
        kinds.insert(0, "sqlite")  # the reference
    ways = [w.strip() for w in ns.ways.split(",") if w.strip() in ("pane", "call")]
    times: dict[tuple[str, str], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in ways:
            for kind in kinds:
                url = URLS[kind] or f"sqlite:///{Path(tmp) / f'reprocess-{way}.db'}"
                times[kind, way] = await one(kind, url, ns.tasks, way)
    print(f"reprocess all of {ns.tasks:,} dead letters, goal <= {GOAL:g}x SQLite")
    print(f"{'backend':<12}{'way':<6}{'seconds':>10}{'cpu':>8}{'x SQLite':>10}  goal")
    missed = False
    for (kind, way), (t, cpu) in times.items():
        ratio = t / times["sqlite", way][0]
        missed |= ratio > GOAL
        print(f"{kind:<12}{way:<6}{t:>10.2f}{cpu:>8.2f}{ratio:>10.2f}  "
              f"{'met' if ratio <= GOAL else 'MISSED'}")
    if "amqp" in kinds and ways:
        floor = await amqp_floor(URLS["amqp"], ns.tasks)
        reference = min(times["sqlite", way][0] for way in ways)
        print(f"RabbitMQ alone, {ns.tasks:,} persistent publishes in one transaction: "
              f"{floor:.2f} s = {floor / reference:.2f}x SQLite's fastest way")
    return 1 if missed else 0


async def amqp_floor(url: str, n: int) -> float:
    """Seconds RabbitMQ takes to commit `n` task-sized persistent publishes in one
    transaction, written as `DeadLetterStore` writes a reprocess (queue of its own)."""
    import aiormq

    from queuelab.backends.amqp.dead import _write
    from queuelab.backends.amqp.frames import TaskPublish
    from queuelab.backends.amqp.wire import new_message_id

    name = f"bench-floor-{os.getpid()}-{secrets.token_hex(3)}"
    connection = await aiormq.connect(url)
    try:
        ch = await connection.channel(publisher_confirms=False)
        await ch.queue_declare(name, durable=True)
        try:
            await ch.tx_select()
            publish = TaskPublish(ch.number, name, 131_000)
            chunks = [  # encoded before the clock starts: the broker's time only
                b"".join(
                    publish(Task(f"t{i:07d}", payload={"n": i}, attempts=1).to_json().encode(),
                            new_message_id(), None)
                    for i in range(start, min(n, start + 2000))
                )
                for start in range(0, n, 2000)
            ]
            began = time.perf_counter()
            for chunk in chunks:
                await _write(ch, chunk)
            await ch.tx_commit()
            return time.perf_counter() - began
        finally:
            await ch.queue_delete(name)
    finally:
        await connection.close()

if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
