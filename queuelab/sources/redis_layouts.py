"""Queues on Redis, in the layouts of Celery (kombu), RQ and QueueLab, read with read commands
only (LLEN, ZCARD, ZCOUNT, SCARD, SMEMBERS, HGET, HSCAN, EXISTS, TIME).

* Celery / kombu: queue `Q` is the list `Q`, with priority sub-lists `Q\\x06\\x163`, `…6`,
  `…9` (kombu's `sep` and `PRIORITY_STEPS`); a message a worker holds sits in the global
  hash `unacked` as `[message, exchange, routing_key]`, counted here for routing key or
  exchange `Q`. `_kombu.binding.Q` marks a declared queue that is empty now. Kombu keeps no
  consumer list and no counters on Redis: depth only.
* RQ: `rq:queue:Q` (ready job ids), the registries `rq:wip:Q` (started), `rq:failed:Q`,
  `rq:deferred:Q` and `rq:scheduled:Q`, the workers set `rq:workers:Q` (consumers) and each
  worker's `successful_job_count` (a completions counter; arrivals then follow by flow
  balance).
* QueueLab: the keys `queuelab:{Q}:…` of `backends/redis_queue/keys.py`, counted the way
  its COUNTS script does but without its reaping (which writes): a due retry or an expired
  lease is counted as ready, by the server's clock.

The layout is detected from which keys exist; when more than one fits, `?layout=` decides,
and until one fits (a queue not created yet) each poll says so and looks again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from queuelab.core.monitoring import RateDerivation, Sample, derivation
from queuelab.core.urls import redact_url
from queuelab.sources.base import SourceError, option

LAYOUTS = ("celery", "rq", "queuelab")
OPTIONS = ("queue", "layout")
KOMBU_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)  # step 0 is the plain list
UNACKED_SCAN_LIMIT = 100_000  # entries of `unacked` looked at per poll, at most
TIMEOUT = 5.0
METHODS = {
    "celery": "Celery (kombu) layout on Redis",
    "rq": "RQ layout on Redis",
    "queuelab": "QueueLab layout on Redis",
}


class RedisSource:
    """One queue on a Redis server, in one of `LAYOUTS`."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = redact_url(url)
        self.queue = option(options, "queue", OPTIONS, self.url)
        layout = options.get("layout", "")
        if layout and layout not in LAYOUTS:
            raise SourceError(f"{self.url}: layout {layout!r} is not one of "
                              f"{', '.join(LAYOUTS)}", lasting=True)
        if any(ch in self.queue for ch in "{}") and layout in ("", "queuelab"):
            layout = layout or "celery"  # QueueLab refuses braces; it cannot be its layout
        self.layout = layout or None  # None until detected
        self._connect_url = url.partition("?")[0]
        self._client: Any = None

    @property
    def method(self) -> str:
        return METHODS.get(self.layout or "", "Redis (layout not detected yet)")

    @property
    def derivation(self) -> RateDerivation:
        rq = self.layout == "rq"
        return derivation(arrival_reported=False, arrival_counter=False,
                          completion_reported=False, completion_counter=rq)

    async def open(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(
            self._connect_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def read(self) -> Sample:
        from redis.exceptions import AuthenticationError, RedisError, ResponseError

        if self._client is None:
            await self.open()
        try:
            if self.layout is None:
                self.layout = await self._detect()
            reader = {"celery": self._celery, "rq": self._rq, "queuelab": self._queuelab}
            return await reader[self.layout]()
        except AuthenticationError:
            raise SourceError(f"{self.url}: Redis refused the password or user") from None
        except ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                raise SourceError(f"{self.url}: Redis wants a (correct) password") from None
            raise SourceError(f"{self.url}: {redact_url(str(exc))}") from None
        except (RedisError, OSError) as exc:
            raise SourceError(f"{self.url}: Redis is unreachable "
                              f"({type(exc).__name__}: {redact_url(str(exc))})") from None

    async def _detect(self) -> str:
        q = self.queue
        c = self._client
        p = c.pipeline(transaction=False)
        p.exists(f"rq:queue:{q}", *(f"rq:{r}:{q}" for r in
                                    ("wip", "failed", "finished", "deferred", "scheduled")))
        p.scard(f"rq:workers:{q}")
        p.exists(q, *(f"{q}{KOMBU_SEP}{s}" for s in KOMBU_PRIORITY_STEPS),
                 f"_kombu.binding.{q}")
        p.exists(*(f"queuelab:{{{q}}}:{k}" for k in ("meta", "tasks", "dead", "seq")))
        rq_keys, rq_workers, kombu, ours = await p.execute()
        found = [name for name, hit in (("rq", rq_keys or rq_workers), ("celery", kombu),
                                        ("queuelab", ours)) if hit]
        if len(found) == 1:
            return found[0]
        if not found:
            raise SourceError(f"{self.url}: no queue {q!r} on this Redis in the layout of "
                              f"Celery, RQ or QueueLab (yet); looking again at the next poll")
        raise SourceError(f"{self.url}: queue {q!r} fits the layouts of {' and '.join(found)}:"
                          f" say which with ?layout={found[0]}", lasting=True)

    async def _celery(self) -> Sample:
        q = self.queue
        c = self._client
        p = c.pipeline(transaction=False)
        p.llen(q)
        for step in KOMBU_PRIORITY_STEPS:
            p.llen(f"{q}{KOMBU_SEP}{step}")
        lengths = await p.execute()
        t = time.time()
        held = 0
        seen = 0
        target = q.encode()
        async for _, value in c.hscan_iter("unacked", count=1000):
            seen += 1
            if seen > UNACKED_SCAN_LIMIT:
                break
            try:
                entry = json.loads(value)
                exchange, key = str(entry[1]).encode(), str(entry[2]).encode()
            except (ValueError, IndexError, TypeError):
                continue
            if target in (key, exchange):
                held += 1
        return Sample(t=t, ready=sum(int(n) for n in lengths), in_flight=held)

    async def _rq(self) -> Sample:
        q = self.queue
        c = self._client
        p = c.pipeline(transaction=False)
        p.llen(f"rq:queue:{q}")
        p.zcard(f"rq:wip:{q}")
        p.zcard(f"rq:failed:{q}")
        p.zcard(f"rq:deferred:{q}")
        p.zcard(f"rq:scheduled:{q}")
        p.smembers(f"rq:workers:{q}")
        ready, started, failed, deferred, scheduled, workers = await p.execute()
        t = time.time()
        completed = 0
        if workers:
            p = c.pipeline(transaction=False)
            for w in sorted(workers):
                p.hget(w, "successful_job_count")
            completed = sum(int(n or 0) for n in await p.execute())
        return Sample(t=t, ready=int(ready), in_flight=int(started), failed=int(failed),
                      delayed=int(deferred) + int(scheduled), consumers=len(workers),
                      completed=float(completed))

    async def _queuelab(self) -> Sample:
        k = f"queuelab:{{{self.queue}}}:"
        c = self._client
        secs, micros = await c.time()
        now = secs + micros / 1e6
        p = c.pipeline(transaction=False)
        p.zcard(k + "ready")
        p.zcount(k + "delayed", "-inf", now)
        p.zcount(k + "delayed", f"({now}", "+inf")
        p.zcount(k + "leased", "-inf", now)
        p.zcount(k + "leased", f"({now}", "+inf")
        p.hlen(k + "dead")
        ready, due, delayed, expired, leased, dead = await p.execute()
        return Sample(t=time.time(), ready=int(ready) + int(due) + int(expired),
                      in_flight=int(leased), delayed=int(delayed), failed=int(dead))
