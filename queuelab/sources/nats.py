"""NATS JetStream, read through JetStream's info API (stream and consumer info only).

`nats://host:4222?queue=STREAM`: ready = the consumers' undelivered messages, in flight = their
unacknowledged ones, consumers = how many the stream has. The stream's last sequence counts
every message ever stored (arrivals), and last sequence - messages still held counts those
removed (acked, in a work-queue stream: completions): rates follow from the two counters.
`layout=queuelab` reads QueueLab's own queue `Q`: the stream `QL_Q` and, as failed, the dead
letters on `ql.Q.dead` in `QL_Q_DEAD` (the names of `backends/nats_queue/queue.py`; a test
checks that they agree). Nothing is created: a stream that does not exist is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from queuelab.core.monitoring import RateDerivation, Sample, derivation
from queuelab.core.urls import redact_url
from queuelab.sources.base import SourceError, option

OPTIONS = ("queue", "layout")
TIMEOUT = 5.0


def queuelab_names(queue: str) -> tuple[str, str, str]:
    """QueueLab's work stream, dead-letter stream and dead-letter subject for queue `queue`."""
    return f"QL_{queue}", f"QL_{queue}_DEAD", f"ql.{queue}.dead"


class NatsSource:
    """A JetStream stream (and its consumers), read through the info API."""

    method = "JetStream stream and consumer info"

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = redact_url(url)
        self.queue = option(options, "queue", OPTIONS, self.url)
        self.layout = options.get("layout", "plain") or "plain"
        if self.layout not in ("plain", "queuelab"):
            raise SourceError(f"{self.url}: layout {self.layout!r} is not one of plain, "
                              "queuelab", lasting=True)
        parts = urlsplit(url)
        self._server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self._nc: Any = None

    @property
    def derivation(self) -> RateDerivation:
        return derivation(arrival_reported=False, arrival_counter=True,
                          completion_reported=False, completion_counter=True)

    async def open(self) -> None:
        import nats

        async def quiet(_: Exception) -> None:
            return None

        try:
            self._nc = await asyncio.wait_for(
                nats.connect(servers=[self._server], connect_timeout=TIMEOUT,
                             max_reconnect_attempts=-1, reconnect_time_wait=1.0,
                             error_cb=quiet),
                TIMEOUT + 1.0,
            )
        except Exception as exc:
            raise SourceError(f"{self.url}: cannot reach the NATS server "
                              f"({type(exc).__name__})") from None

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def read(self) -> Sample:
        from nats.js.errors import NotFoundError

        if self._nc is None:
            await self.open()
        js = self._nc.jetstream(timeout=TIMEOUT)
        if self.layout == "queuelab":
            stream, dead_stream, dead_subject = queuelab_names(self.queue)
        else:
            stream, dead_stream, dead_subject = self.queue, "", ""
        try:
            info = await js.stream_info(stream)
            consumers = await js._jsm.consumers_info(stream)
            failed = None
            if dead_stream:
                dead = await js.stream_info(dead_stream, subjects_filter=dead_subject)
                failed = int((dead.state.subjects or {}).get(dead_subject, 0))
        except NotFoundError:
            raise SourceError(f"{self.url}: no stream {stream!r} on this server") from None
        except Exception as exc:
            raise SourceError(f"{self.url}: JetStream did not answer "
                              f"({type(exc).__name__})") from None
        state = info.state
        held = int(state.messages or 0)
        last = int(state.last_seq or 0)
        return Sample(
            t=time.time(),
            ready=sum(int(c.num_pending or 0) for c in consumers),
            in_flight=sum(int(c.num_ack_pending or 0) for c in consumers),
            failed=failed,
            consumers=len(consumers),
            arrived=float(last),
            completed=float(last - held),
        )
