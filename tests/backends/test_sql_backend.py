"""sqlite:// and postgresql:// beyond the contract: URLs and options, the schema, the
default file, coalesced claims, and clear one-line failures that never show a password."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuelab.backends import BackendError, Delivery, QueueCounts, open_queue
from queuelab.backends.sql import sqlfiles
from queuelab.backends.sql.config import default_sqlite_file
from queuelab.core.task import Task

from ..services import needs


def tasks(n: int, prefix: str = "t") -> list[Task]:
    return [Task(f"{prefix}{i}", payload={"i": i}) for i in range(n)]


# --- the default file, persistence, the schema -------------------------------------------
@pytest.mark.asyncio
async def test_default_sqlite_file_outlives_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///` is a file in the user's data directory; what an earlier run (another
    process) enqueued, leased and dead-lettered is still there when the app opens it."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    earlier_run = (
        "import asyncio\n"
        "from queuelab.backends import open_queue\n"
        "from queuelab.core.task import Task\n"
        "async def main():\n"
        "    async with open_queue('sqlite:///') as q:\n"
        "        await q.enqueue_many(Task(f't{i}') for i in range(5))\n"
        "        await q.enqueue(Task('later'), delay=3600)\n"
        "        d, e = await q.claim(3600.0, max_tasks=2)\n"
        "        await q.dead_letter(e, 'E', 'gave up', at=1.0)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", earlier_run], check=True, env=env, timeout=60)
    assert default_sqlite_file() == tmp_path / "QueueLab" / "queuelab.sqlite3"
    assert default_sqlite_file().exists()
    async with open_queue("sqlite:///") as q:
        c = await q.counts()
        assert (c.ready, c.delayed, c.leased, c.dead) == (3, 1, 1, 1)
        assert (await q.get_dead_letter("t1")) is not None
        assert [t.id for t in await q.peek(5)] == ["t2", "t3", "t4"]


@pytest.mark.asyncio
async def test_schema_is_created_once_and_versioned(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    for _ in range(2):
        async with open_queue(f"sqlite:///{db}") as q:
            await q.enqueue(Task(f"t{_}"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version, name FROM queuelab_schema_version").fetchall() == [
            (1, "initial"),
            (2, "lease_until"),
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.execute("INSERT INTO queuelab_schema_version VALUES (99, 'future', 0)")
    with pytest.raises(BackendError, match="schema version 99, newer"):
        async with open_queue(f"sqlite:///{db}"):
            pass


@pytest.mark.asyncio
async def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """Schema 1 kept a lease's end in ready_at (and the place in line in queued_at); after
    migration 2 the same tasks are ready, delayed and leased as before, and the leased
    one's receipt still acks it."""
    db = tmp_path / "lab.db"
    [(_, _, schema_1)] = [m for m in sqlfiles.migrations("sqlite") if m[0] == 1]
    now = time.time()
    with sqlite3.connect(db) as conn:
        for statement in schema_1:
            conn.execute(statement)
        conn.execute(sqlfiles.queries("sqlite")["version_table"])
        conn.execute("INSERT INTO queuelab_schema_version VALUES (1, 'initial', 0)")
        rows = [  # seq, id, ready_at, queued_at, lease_token, attempts
            (1, "leased", now + 600, now - 10, 77, 1),
            (2, "ready", now - 5, now - 5, None, 0),
            (3, "later", now + 600, now + 600, None, 1),
        ]
        conn.executemany(
            "INSERT INTO queuelab_tasks (seq, queue, id, priority, ready_at, queued_at,"
            " lease_token, attempts, enqueued_at, task) VALUES (?, 'default', ?, 0, ?, ?, ?, ?,"
            " 0, json_object('id', ?2))",
            rows,
        )
    async with open_queue(f"sqlite:///{db}") as q:
        assert await q.counts() == QueueCounts(ready=1, delayed=1, leased=1, dead=0)
        await q.ack(Delivery(Task("leased"), (1, 77), now + 600))
        [d] = await q.claim(30.0)
        assert d.task.id == "ready" and d.task.attempts == 1


@pytest.mark.asyncio
async def test_queues_share_a_database_without_meeting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    async with open_queue(f"{url}?queue=a") as a, open_queue(url, queue="b") as b:
        await a.enqueue_many(tasks(3))
        await b.enqueue_many(tasks(2))  # the same ids, another queue
        assert (await a.counts()).ready == 3 and (await b.counts()).ready == 2
        await b.purge()
        assert (await a.counts()).ready == 3


@pytest.mark.asyncio
async def test_duplicate_ids_refuse_the_whole_batch(tmp_path: Path) -> None:
    async with open_queue(f"sqlite:///{tmp_path / 'lab.db'}") as q:
        await q.enqueue(Task("t1"))
        with pytest.raises(BackendError, match="already in queue"):
            await q.enqueue(Task("t1"))
        with pytest.raises(BackendError, match="nothing was added"):
            await q.enqueue_many(tasks(3))
        assert (await q.counts()).ready == 1


# --- URLs and options -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///x.db?colour=red", "unknown option.*colour.*knows queue, discipline"),
        ("sqlite:///x.db?discipline=lifo", "discipline must be one of fifo, priority"),
        ("sqlite:///x.db?pool_size=0", "pool_size must be a number from 1"),
        ("sqlite:///x.db?poll_interval=soon", "poll_interval must be a number"),
        ("sqlite:///:memory:", "memory:// is the in-process queue"),
        ("postgresql://u:s3cret@h:notaport/db", "not a valid database URL"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(BackendError, match=message) as err:
        open_queue(url)
    assert "s3cret" not in str(err.value)


@pytest.mark.asyncio
async def test_unopenable_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'lab.db'}"
    with pytest.raises(BackendError, match=r"cannot open sqlite:///.*unable to open database"):
        async with open_queue(url):
            pass


# --- claims ---------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_concurrent_claims_are_served_in_call_order(tmp_path: Path) -> None:
    """Claims made together ride in one statement; each caller gets its share, in order."""
    async with open_queue(f"sqlite:///{tmp_path / 'lab.db'}") as q:
        await q.enqueue_many(tasks(12))
        got = await asyncio.gather(
            *(q.claim(30.0, max_tasks=n) for n in (1, 3, 1, 2, 1)), q.claim(30.0, max_tasks=9)
        )
        assert [[d.task.id for d in g] for g in got] == [
            ["t0"],
            ["t1", "t2", "t3"],
            ["t4"],
            ["t5", "t6"],
            ["t7"],
            ["t8", "t9", "t10", "t11"],
        ]
        acks = await asyncio.gather(
            *(q.ack(d) for g in got for d in g), q.ack(got[0][0]), return_exceptions=True
        )
        assert sum(isinstance(a, Exception) for a in acks) == 1  # one receipt acked twice
        assert (await q.counts()).total == 0


@pytest.mark.asyncio
async def test_a_cancelled_claim_leaves_its_tasks_claimable(tmp_path: Path) -> None:
    async with open_queue(f"sqlite:///{tmp_path / 'lab.db'}") as q:
        await q.enqueue_many(tasks(50))
        for steps in range(6):  # cancel at different points of the claim's way
            claim = asyncio.create_task(q.claim(30.0, max_tasks=5))
            for _ in range(steps):
                await asyncio.sleep(0)
            claim.cancel()
            got = await asyncio.gather(claim, return_exceptions=True)
            if isinstance(got[0], list):  # it finished first: give its tasks back
                for d in got[0]:
                    await q.nack(d)
        for _ in range(100):  # a claim answered after its caller left is handed back
            c = await q.counts()
            if c.leased == 0:
                break
            await asyncio.sleep(0.02)
        assert (c.ready, c.leased) == (50, 0)


# --- connection failures --------------------------------------------------------------
@pytest.mark.asyncio
async def test_unreachable_server_fails_fast_with_the_password_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    start = time.monotonic()
    with pytest.raises(BackendError) as err:
        async with open_queue("postgresql://lab:s3cret@127.0.0.1:1/x"):
            pass
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "\n" not in message and "connection refused" in message
    assert "lab:***@127.0.0.1:1" in message
    assert "s3cret" not in message + repr(err.value) + caplog.text


@pytest.mark.asyncio
async def test_a_server_that_never_answers_times_out() -> None:
    """A host that accepts the connection and then says nothing (a hung or firewalled
    server): the connect timeout ends the wait with a message, not a hang."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    start = time.monotonic()
    try:
        with pytest.raises(BackendError, match="no answer before the connect timeout"):
            async with open_queue(f"postgresql://lab:s3cret@127.0.0.1:{port}/x?connect_timeout=1"):
                pass
    finally:
        silent.close()
    assert time.monotonic() - start < 4


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "postgresql://postgres:s3cret@127.0.0.1:5432/no_such_db",
            'database "no_such_db" does not exist',
            marks=needs("postgres"),
        ),
        pytest.param(
            "postgresql://nobody:s3cret@127.0.0.1:5432/test",
            'role "nobody" does not exist',
            marks=needs("postgres"),
        ),
    ],
)
async def test_refusals_name_the_reason(url: str, message: str) -> None:
    with pytest.raises(BackendError, match=message) as err:
        async with open_queue(url):
            pass
    assert "s3cret" not in str(err.value) and ":***@" in str(err.value)


@pytest.fixture(scope="module")
def password_server() -> Iterator[int]:
    """A private PostgreSQL cluster that checks passwords (the shared one trusts 127.0.0.1)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if os.geteuid() != 0 or not bins or not shutil.which("runuser"):
        pytest.skip("needs root and PostgreSQL's server binaries to make a password cluster")
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="queuelab-pgpw-"))  # pytest's tmp is root-only
    data, pwfile = root / "data", root / "pw"
    pwfile.write_text("right-password\n")
    shutil.chown(root, "postgres")
    shutil.chown(pwfile, "postgres")
    port = 54000 + os.getpid() % 1000

    def pg(tool: str, *args: str) -> None:
        # the server's output goes to a file: a pipe would be held open by the postmaster
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(bindir / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    try:
        pg(
            "initdb",
            "-D",
            str(data),
            "-A",
            "scram-sha-256",
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "-N",
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
        yield port
    finally:
        if (data / "postmaster.pid").exists():
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.asyncio
async def test_wrong_password_is_a_clear_error(
    password_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = f"127.0.0.1:{password_server}/postgres"
    start = time.monotonic()
    with pytest.raises(BackendError) as err:
        async with open_queue(f"postgresql://postgres:wrong-s3cret@{base}"):
            pass
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "wrong password" in message and "postgres:***@" in message
    assert "wrong-s3cret" not in message + caplog.text
    async with open_queue(f"postgresql://postgres:right-password@{base}") as q:  # and right
        await q.enqueue(Task("t1"))
        assert (await q.counts()).ready == 1


# --- plans that do not depend on the statistics --------------------------------------
def _plan_nodes(plan: dict) -> list[dict]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _plan_nodes(child))]


@pytest.mark.asyncio
@pytest.mark.parametrize("_pg", [pytest.param(0, marks=needs("postgres"))])
async def test_an_ack_finds_its_rows_by_key_whatever_the_statistics_say(_pg: int) -> None:
    """Statistics taken while nothing was leased ("lease_until > now: 1 row") once made
    the ack a nested loop over every leased row times every receipt (350 ms for 1,000)."""
    import asyncpg

    from queuelab.backends.sql.postgres import INDEXED_ONLY

    from .conftest import POSTGRES_URL

    url = f"{POSTGRES_URL}?queue=ack-plan"
    async with open_queue(url) as queue:
        await queue.purge()
        await queue.enqueue_many(tasks(3000, "plan"))
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute("ANALYZE queuelab_tasks")  # no task leased: the trap is set
            got = await queue.claim(60.0, max_tasks=1000)
            receipts = [d.receipt for d in got]
            await conn.execute(INDEXED_ONLY)
            for _ in range(7):  # past the 5 custom plans after which a generic one may win
                plan = await conn.fetchval(
                    "EXPLAIN (FORMAT JSON) " + sqlfiles.queries("postgresql")["ack"],
                    [seq for seq, _ in receipts],
                    '{"0": 0}',
                    time.time(),
                )
                nodes = _plan_nodes(json.loads(plan)[0]["Plan"])
                kinds = [n["Node Type"] for n in nodes]
                assert not any("Join" in k or "Loop" in k or k == "Seq Scan" for k in kinds), kinds
                # rows found through the primary key by the receipts' seqs (an index scan or a
                # bitmap scan of it, as the planner likes), never by scanning for a condition
                keyed = [n for n in nodes if "Index Cond" in n]
                assert [n["Index Name"] for n in keyed] == ["queuelab_tasks_pkey"], kinds
                assert "ANY" in keyed[0]["Index Cond"], keyed[0]
        finally:
            await conn.close()
        await queue.ack_many(got)
        assert (await queue.counts()).total == 2000
        await queue.purge()


@pytest.mark.asyncio
@pytest.mark.parametrize("_pg", [pytest.param(0, marks=needs("postgres"))])
async def test_reprocess_puts_tasks_in_order_by_one_sort_not_by_pairs(_pg: int) -> None:
    """Reprocessing 100,000 dead letters took 91 s: array_position searched the id array
    for every row, and with sorting off the write session kept the order by a nested loop.
    Now each row's position comes from one unnest, joined by hash, sorted once."""
    import asyncpg

    from queuelab.backends.sql.postgres import INDEXED_ONLY, REPROCESS_SORTS

    from .conftest import POSTGRES_URL, RUN

    statement = sqlfiles.queries("postgresql")["reprocess"]
    assert "array_position" not in statement
    name = f"reprocess-plan-{RUN}"
    ids = [f"dead{i}" for i in range(2000)]
    async with open_queue(f"{POSTGRES_URL}?queue={name}") as queue:
        await queue.purge()
        await queue.enqueue_many(tasks(2000, "dead"))
        await queue.enqueue_many(tasks(2000, "live"))
        got = await queue.claim(60.0, max_tasks=1000)
        got += await queue.claim(60.0, max_tasks=1000)
        for d in got:
            await queue.dead_letter(d, "Boom", "x", 1.0)
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute("ANALYZE queuelab_tasks; ANALYZE queuelab_dead_letters")
            await conn.execute(INDEXED_ONLY)
            async with conn.transaction():
                await conn.execute(REPROCESS_SORTS)
                plan = await conn.fetchval(
                    "EXPLAIN (FORMAT JSON) " + statement, name, ids, time.time(), False
                )
        finally:
            await conn.close()
        nodes = _plan_nodes(json.loads(plan)[0]["Plan"])
        for node in nodes:
            if node["Node Type"] == "Nested Loop":
                below = {c.get("Node Type") for c in node.get("Plans", [])}
                assert "Function Scan" not in below and "CTE Scan" not in below, node
        assert any(n["Node Type"] == "Sort" for n in nodes)
        assert await queue.reprocess(ids) == 2000
        assert [t.id for t in await queue.peek(3)] == ["live0", "live1", "live2"]
        await queue.purge()
