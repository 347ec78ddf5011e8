"""The live engine over every backend that this build has: same books, same audits.

The runtime only speaks `TaskQueue`, so a durable backend must carry a live run exactly as
the memory queue does: every task accounted for at every frame, and the backend's own counts
agreeing with the engine's (allowing only for calls in progress). Backends not (yet) part
of the build are skipped; servers follow the markers of pyproject.toml. Each run uses a
queue name of its own: a run carries over what its queue holds, and shares a queue
another process works.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from queuelab.backends import BackendError
from queuelab.core.task import DeadLetterQuery
from queuelab.runtime.engine import LiveEngine
from tests.runtime.helpers import run_to_end, scenario
from tests.services import needs


def _urls(tmp: Path, name: str) -> dict[str, str]:
    return {
        "sqlite": f"sqlite:///{tmp / 'live.db'}?queue={name}",
        "postgresql": f"postgresql://127.0.0.1/test?queue={name}",
        "redis": f"redis://127.0.0.1:6379/0?queue={name}",
        "amqp": f"amqp://guest:guest@127.0.0.1:5672/?queue={name}",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", [
    "sqlite",
    pytest.param("postgresql", marks=needs("postgres")),
    pytest.param("redis", marks=needs("redis")),
    pytest.param("amqp", marks=needs("rabbitmq")),
])
async def test_a_live_run_keeps_its_books_on_every_backend(backend: str, tmp_path: Path) -> None:
    url = _urls(tmp_path, f"live-{uuid.uuid4().hex[:8]}")[backend]
    # 0.1: a service time of 50 ms of wall time, so the backends' own round trips (a few
    # ms each, several per task) stay small beside the work itself
    s = scenario(run={"duration": 20.0, "warmup": 0.0, "time_scale": 0.1},
                 arrivals={"rate": 3.0}, service={"mean": 0.5},
                 failures={"probability": 0.15, "poison_fraction": 0.05},
                 retry={"max_attempts": 3, "base_delay": 1.0}, queue={"backend": url},
                 pool={"workers": 3})
    engine = LiveEngine(s)
    try:
        await engine.open()
    except BackendError as exc:
        if "not available in this build" in str(exc) or "needs the" in str(exc):
            pytest.skip(str(exc))
        if "unknown option" in str(exc):  # no way to name a private queue: do not purge one
            pytest.skip(f"{backend}: {exc}")
        raise
    try:
        frames = await run_to_end(engine)  # conservation at every frame, audits all clean
        totals = engine.totals()
        # a backend slow to count (AMQP: ~40 ms) is audited less often; frames keep pace
        assert totals.done > 0.6 * totals.created and len(frames) >= 18
        assert engine.audits >= 5
        page = await engine.dead_letters(DeadLetterQuery(limit=100))
        assert page.total == totals.dead_lettered
        assert all(len(d.task.history) == d.task.attempts for d in page.items)
        # after the run: the backend holds what the books say (a broker's message counts
        # may lag its confirms by a moment, so look again for up to two seconds)
        queued = totals.waiting + totals.retrying
        for _ in range(40):
            counts = await engine.queue.counts()  # type: ignore[union-attr]
            if (counts.leased, counts.dead, counts.ready + counts.delayed) == (
                    0, totals.dead_lettered, queued):
                break
            await asyncio.sleep(0.05)
        assert counts.leased == 0 and counts.dead == totals.dead_lettered, counts
        assert counts.ready + counts.delayed == queued, (counts, totals)
    finally:
        await engine.queue.purge()  # type: ignore[union-attr]
        await engine.aclose()
