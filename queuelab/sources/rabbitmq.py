"""RabbitMQ, read the way its own tools read it: the management HTTP API first.

`GET /api/queues/{vhost}/{queue}` gives ready and unacknowledged messages, consumers, the
cumulative publish and ack counters, and the broker's own publish and ack rates, which are
used as they are: the plugin refreshes its figures every 5 s, so a rate derived from the
counters at a faster poll would be 0 four times and then a spike. Where
the API does not answer (plugin off, port closed), the source falls back to an AMQP passive
declare - which never creates anything, and gives only ready messages and consumers - and
`method` says which one is in use; the API is tried again every `RETRY_API` polls.

`layout=queuelab` reads QueueLab's own AMQP queue `Q`: `queuelab.Q` (ready, in flight),
`queuelab.Q.dead` (failed) and the delay ladder `queuelab.Q.delay.*` (delayed), the names of
`backends/amqp/topology.py` (a test checks that the two agree).

The API is read with the standard library's HTTP client in a worker thread: a GET every few
seconds needs no HTTP package, and the credentials go in a header, never in a URL that an
error message could repeat.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from queuelab.core.monitoring import RateDerivation, Sample, derivation
from queuelab.core.urls import redact_url
from queuelab.sources.base import SourceError, option

API_PORT = 15672
RETRY_API = 10  # AMQP polls between two tries of the management API
TIMEOUT = 5.0  # seconds for one HTTP request or AMQP round trip
MAX_REPLY = 4 << 20  # bytes read from one API reply: a hostile server cannot flood memory
OPTIONS = ("queue", "layout", "api", "via")
VIA_API = "RabbitMQ management API"
VIA_AMQP = "AMQP passive declare (management API unreachable: depth and consumers only)"


class _Unreachable(Exception):
    """The management API did not answer at all (as opposed to answering an error)."""


class RabbitSource:
    """A RabbitMQ queue, read through the management API or AMQP passive declares."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = redact_url(url)
        self.queue = option(options, "queue", OPTIONS, self.url)
        self.layout = options.get("layout", "plain") or "plain"
        if self.layout not in ("plain", "queuelab"):
            raise SourceError(f"{self.url}: layout {self.layout!r} is not one of plain, "
                              "queuelab", lasting=True)
        via = options.get("via", "auto") or "auto"
        if via not in ("auto", "api", "amqp"):
            raise SourceError(f"{self.url}: via {via!r} is not one of auto, api, amqp",
                              lasting=True)
        self._via = via
        parts = urlsplit(url)
        self._amqp_url = url.partition("?")[0]
        self._user = unquote(parts.username or "guest")
        self._password = unquote(parts.password or "guest")
        host = parts.hostname or "localhost"
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self._vhost = quote(vhost, safe="")
        api = options.get("api") or f"http://{host}:{API_PORT}"
        if urlsplit(api).scheme not in ("http", "https"):
            raise SourceError(f"{self.url}: api must be an http(s):// URL", lasting=True)
        self._api = api.rstrip("/")
        self._use_api = via != "amqp"
        self._amqp_polls = 0
        self._connection: Any = None
        self._channel: Any = None

    @property
    def method(self) -> str:
        return VIA_API if self._use_api else VIA_AMQP

    @property
    def derivation(self) -> RateDerivation:
        if self._use_api:
            return derivation(arrival_reported=True, arrival_counter=True,
                              completion_reported=True, completion_counter=True)
        return derivation(arrival_reported=False, arrival_counter=False,
                          completion_reported=False, completion_counter=False)

    @property
    def _names(self) -> tuple[str, str, str]:
        if self.layout == "queuelab":
            q = self.queue
            return f"queuelab.{q}", f"queuelab.{q}.dead", f"queuelab.{q}.delay."
        return self.queue, "", ""

    async def open(self) -> None:
        """Nothing to connect up front: each read finds its way (and says which)."""

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def read(self) -> Sample:
        if self._use_api or (self._via == "auto" and self._amqp_polls >= RETRY_API):
            try:
                sample = await self._read_api()
            except _Unreachable as exc:
                if self._via == "api":
                    raise SourceError(f"{self.url}: the management API at {self._api} "
                                      f"does not answer ({exc})") from None
                self._use_api = False
                self._amqp_polls = 0
            else:
                self._use_api = True
                self._amqp_polls = 0
                return sample
        self._amqp_polls += 1
        return await self._read_amqp()

    async def list_queues(self) -> list[tuple[str, int, int]]:
        """(name, messages, consumers) of every queue in the vhost: a list to pick from."""
        rows = await self._get(f"/api/queues/{self._vhost}?columns=name,messages,consumers")
        return sorted((str(r.get("name", "")), int(r.get("messages") or 0),
                       int(r.get("consumers") or 0)) for r in rows)

    # ------------------------------------------------------------------ management API

    async def _read_api(self) -> Sample:
        main, dead, delay = self._names
        q = await self._get(f"/api/queues/{self._vhost}/{quote(main, safe='')}")
        t = time.time()
        stats = q.get("message_stats") or {}
        failed = delayed = None
        if dead:
            try:
                d = await self._get(f"/api/queues/{self._vhost}/{quote(dead, safe='')}")
                failed = int(d.get("messages") or 0)
            except SourceError:
                failed = None
            pattern = quote("^" + re.escape(delay), safe="")
            page = await self._get(f"/api/queues/{self._vhost}?page=1&page_size=500"
                                   f"&use_regex=true&name={pattern}&columns=name,messages")
            items = page.get("items", []) if isinstance(page, dict) else page
            delayed = sum(int(i.get("messages") or 0) for i in items)
        if "messages_ready" not in q:
            # a queue the plugin has not collected statistics for yet (a few seconds old)
            raise SourceError(f"{self.url}: the management API has no figures for queue "
                              f"{main!r} yet")
        completed = int(stats.get("ack") or 0) + int(stats.get("deliver_no_ack") or 0)

        def rate(*names: str) -> float:
            return sum(float((stats.get(f"{n}_details") or {}).get("rate") or 0.0)
                       for n in names)

        return Sample(
            t=t, ready=int(q["messages_ready"]),
            in_flight=int(q.get("messages_unacknowledged") or 0),
            failed=failed, delayed=delayed, consumers=int(q.get("consumers") or 0),
            arrived=float(stats.get("publish") or 0), completed=float(completed),
            arrival_rate=rate("publish"), completion_rate=rate("ack", "deliver_no_ack"),
        )

    async def _get(self, path: str) -> Any:
        return await asyncio.to_thread(self._get_sync, path)

    def _get_sync(self, path: str) -> Any:
        token = base64.b64encode(f"{self._user}:{self._password}".encode()).decode()
        request = urllib.request.Request(self._api + path, headers={
            "Authorization": f"Basic {token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
                body = reply.read(MAX_REPLY + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise SourceError(f"{self.url}: the management API refused user "
                                  f"{self._user!r} (401: wrong user name or password)") from None
            if exc.code == 404:
                raise SourceError(f"{self.url}: no queue {self.queue!r} in vhost "
                                  f"{unquote(self._vhost)!r} (404 from the management API)"
                                  ) from None
            raise SourceError(f"{self.url}: the management API answered {exc.code} "
                              f"{exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Unreachable(str(reason)) from None
        if len(body) > MAX_REPLY:
            raise SourceError(f"{self.url}: the management API's reply is larger than "
                              f"{MAX_REPLY:,} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise SourceError(f"{self.url}: the management API did not answer JSON") from None

    # ------------------------------------------------------------------ AMQP fallback

    async def _read_amqp(self) -> Sample:
        import aio_pika
        from aiormq.exceptions import AMQPError, ChannelNotFoundEntity

        main, dead, _delay = self._names
        try:
            if self._connection is None or self._connection.is_closed:
                self._connection = await asyncio.wait_for(
                    aio_pika.connect(self._amqp_url, timeout=TIMEOUT), TIMEOUT)
                self._channel = None
            ready, consumers = await self._passive(main)
            failed = delayed = None
            if dead:
                failed = (await self._passive(dead))[0]
        except ChannelNotFoundEntity:
            self._channel = None
            raise SourceError(f"{self.url}: no queue {main!r} on the broker "
                              "(passive declare: 404 NOT_FOUND)") from None
        except (AMQPError, OSError, TimeoutError, ConnectionError) as exc:
            await self.close()
            text = str(exc) or type(exc).__name__
            if "ACCESS_REFUSED" in text or "403" in text:
                text = f"user {self._user!r} was refused (wrong user name or password?)"
            raise SourceError(f"{self.url}: cannot read over AMQP: "
                              f"{redact_url(text)}") from None
        return Sample(t=time.time(), ready=ready, consumers=consumers, failed=failed,
                      delayed=delayed)

    async def _passive(self, name: str) -> tuple[int, int]:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel(publisher_confirms=False)
        q = await asyncio.wait_for(self._channel.declare_queue(name, passive=True), TIMEOUT)
        ok = q.declaration_result
        return int(ok.message_count or 0), int(ok.consumer_count or 0)
