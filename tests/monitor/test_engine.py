"""The monitor engine on a real Redis reached through a link this test can cut: polls go on
through an outage as gaps (NaN frames, history rows marked unreachable), resume by
themselves, and the password in the URL reaches neither the history file nor the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from pathlib import Path

import pytest
import redis

from queuelab.core.engine import RunState
from queuelab.core.monitoring import AlertRules
from queuelab.io.history import HistoryStore, history_path
from queuelab.monitor.engine import MonitorEngine
from queuelab.sources import open_source

from ..services import needs
from .helpers import unique

pytestmark = [*needs("redis")]


class Link:
    """A TCP forwarder to Redis that can be cut and restored on the same port."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for w in self._writers:
            w.close()
        for t in list(self._pipes):
            t.cancel()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers += [writer, up_w]

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        for args in ((reader, up_w), (up_r, writer)):
            task = asyncio.get_running_loop().create_task(pipe(*args))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


async def frames_until(engine: MonitorEngine, got: list, ok, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        got.extend(engine.take_frames())
        if ok(got):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not seen in {timeout} s: {got[-3:]}")


def test_outage_is_a_gap_and_polling_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                             ) -> None:
    q = unique("engine")
    r = redis.Redis()
    r.rpush(q, *[b"{}"] * 3)  # a Celery-layout list of 3
    link = Link()
    url = f"redis://:topsecret@127.0.0.1:{link.port}/0?queue={q}"
    caplog.set_level(logging.DEBUG)

    async def go() -> MonitorEngine:
        await link.up()
        store = HistoryStore.for_source(url, tmp_path)
        engine = MonitorEngine(open_source(url), interval=0.05, history=store,
                               rules=AlertRules(backlog=3))
        engine.start()
        got: list = []
        await frames_until(engine, got, lambda f: len(f) >= 3)
        assert got[-1].depth == 3 and "Celery" in engine.status
        await link.down()
        await frames_until(engine, got, lambda f: math.isnan(f[-1].depth))
        assert "unreachable" in engine.status and "topsecret" not in engine.status
        r.rpush(q, b"{}")
        await link.up()
        await frames_until(engine, got, lambda f: f[-1].depth == 4)
        assert engine.state is RunState.RUNNING
        assert [a.rule for a in engine.alerts] == ["backlog"]  # 4 > 3, once
        await engine.stop()
        store.close()
        await link.down()
        return engine

    try:
        engine = asyncio.run(go())
    finally:
        r.delete(q)
        r.close()
    assert engine.gaps >= 1
    path = history_path(url, tmp_path)
    data = HistoryStore(path).load()
    reach = data["reachable"]
    assert reach[0] == 1 and 0 in reach and reach[-1] == 1
    assert math.isnan(data["ready"][list(reach).index(0)])  # a gap, not a value
    assert data["ready"][-1] == 4
    for f in tmp_path.iterdir():
        assert b"topsecret" not in f.read_bytes(), f
    assert "topsecret" not in caplog.text
    assert HistoryStore(path).source.startswith("redis://127.0.0.1:")


def test_the_engine_refuses_to_write() -> None:
    from queuelab.core.validation import ParamChange, ScenarioError

    engine = MonitorEngine(open_source("redis://127.0.0.1:6379/0?queue=x"), interval=1.0)
    with pytest.raises(ScenarioError, match="read-only"):
        engine.apply(ParamChange("pool.workers", 3))
    with pytest.raises(ScenarioError, match="read-only"):
        asyncio.run(engine.reprocess(["a"]))
    with pytest.raises(ScenarioError, match="read-only"):
        asyncio.run(engine.discard(["a"]))
