"""PostgreSQL and SQLite sources: procrastinate's jobs made by procrastinate itself (in a
schema of this test's own), QueueLab's tables made by its backends, a user's query; and the
read-only proof: every row of the queue, with its xmin and ctid (a rewritten row gets new
ones), is the same after a fast-polled hour; a query that would write is refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from queuelab.sources import SourceError, open_source

from .helpers import PROOF_POLLS, on_server, read_many, unique

on_postgres = on_server("postgres")

PG = "postgresql://postgres@127.0.0.1:5432/test"


async def pg_rows(sql: str, *args: object) -> list[tuple[object, ...]]:
    import asyncpg

    conn = await asyncpg.connect(PG)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


@pytest.fixture
def procrastinate_schema() -> object:
    import asyncpg

    schema = unique("pg").replace("-", "_")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield schema
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@on_postgres
def test_procrastinate_jobs_by_status(procrastinate_schema: str) -> None:
    import procrastinate
    from procrastinate.jobs import Status

    schema = procrastinate_schema
    q = unique("jobs")
    connector = procrastinate.PsycopgConnector(
        conninfo=f"host=127.0.0.1 port=5432 dbname=test user=postgres "
                 f"options=-csearch_path={schema}")
    app = procrastinate.App(connector=connector)

    @app.task(queue=q, name="monitor_test_job")
    def job(i: int) -> None:
        return None

    async def make() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for i in range(6):
                await job.defer_async(i=i)
            await job.configure(schedule_in={"hours": 1}).defer_async(i=99)
            worker = await app.job_manager.register_worker()
            for status in (Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED, None):
                fetched = await app.job_manager.fetch_job([q], worker)
                assert fetched is not None
                if status is not None:
                    await app.job_manager.finish_job(fetched, status, delete_job=False)

    asyncio.run(make())
    url = f"{PG}?queue={q}&schema={schema}"
    snap = (f'SELECT xmin::text, ctid::text, * FROM "{schema}".procrastinate_jobs '
            "WHERE queue_name = $1 ORDER BY id")
    before = asyncio.run(pg_rows(snap, q))
    samples = asyncio.run(read_many(url, PROOF_POLLS))
    assert asyncio.run(pg_rows(snap, q)) == before and len(before) == 7
    s = samples[-1]
    assert (s.ready, s.delayed, s.in_flight, s.failed, s.completed, s.arrived) == (
        2, 1, 1, 1, 2.0, 7.0), s
    assert open_source(url + "&layout=procrastinate").derivation.completion.startswith("Δ")


def _queuelab_fill(url: str, q: str) -> None:
    from queuelab.backends import open_queue
    from queuelab.core.task import Task

    async def fill() -> None:
        async with open_queue(url, queue=q) as queue:
            await queue.enqueue_many([Task(id=f"t{i}", created_at=0.0) for i in range(5)])
            held = await queue.claim(300.0, max_tasks=2)
            await queue.nack(held[0], delay=3600.0)
            await queue.dead_letter(held[1], error_kind="test", error="on purpose", at=0.0)
            await queue.claim(300.0)

    asyncio.run(fill())


@on_postgres
def test_queuelab_tables_on_postgres_and_a_read_only_query() -> None:
    q = unique("ql")
    _queuelab_fill(PG, q)
    try:
        snap = ("SELECT xmin::text, ctid::text, * FROM queuelab_tasks WHERE queue = $1 "
                "ORDER BY seq")
        before = asyncio.run(pg_rows(snap, q))
        samples = asyncio.run(read_many(f"{PG}?queue={q}&layout=queuelab", PROOF_POLLS))
        assert asyncio.run(pg_rows(snap, q)) == before
        s = samples[-1]
        assert (s.ready, s.in_flight, s.delayed, s.failed) == (2, 1, 1, 1), s
        n = asyncio.run(read_many(
            f"{PG}?sql=SELECT+count(*)+FROM+queuelab_tasks+WHERE+queue='{q}'", 1))[0]
        assert n.ready == 4
        with pytest.raises(SourceError, match="read-only") as err:
            asyncio.run(read_many(f"{PG}?sql=DELETE+FROM+queuelab_tasks+WHERE+queue='{q}'"
                                  "+RETURNING+1", 1))
        assert err.value.lasting
        assert asyncio.run(pg_rows(snap, q)) == before
    finally:
        asyncio.run(pg_rows("DELETE FROM queuelab_tasks WHERE queue = $1", q))
        asyncio.run(pg_rows("DELETE FROM queuelab_dead_letters WHERE queue = $1", q))


def test_queuelab_sqlite_file_read_only(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    url = f"sqlite:///{db}"
    _queuelab_fill(url, "jobs")
    before = db.read_bytes()
    samples = asyncio.run(read_many(f"{url}?queue=jobs", PROOF_POLLS))
    s = samples[-1]
    assert (s.ready, s.in_flight, s.delayed, s.failed) == (2, 1, 1, 1), s
    with pytest.raises(SourceError, match=r"readonly|read-only") as err:
        asyncio.run(read_many(f"{url}?sql=DELETE+FROM+queuelab_tasks+RETURNING+1", 1))
    assert err.value.lasting
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM queuelab_tasks").fetchone()[0] == 4


def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    with pytest.raises(SourceError, match="unable to open"):
        asyncio.run(read_many(f"sqlite:///{db}?queue=jobs", 1))
    assert not db.exists()


def test_bad_options_are_named() -> None:
    with pytest.raises(SourceError, match="unknown option colour"):
        open_source(f"{PG}?queue=a&colour=red")
    with pytest.raises(SourceError, match="needs the query"):
        open_source(f"{PG}?queue=a&layout=query")
    with pytest.raises(SourceError, match="memory://"):
        open_source("memory://jobs")
    with pytest.raises(SourceError, match=r"\?queue=NAME"):
        open_source("redis://127.0.0.1:6379/0")
