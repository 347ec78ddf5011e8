"""Amazon SQS, read through GetQueueAttributes (SQS's approximate counts) only.

`sqs://QUEUE?region=…&endpoint=…`: ready = ApproximateNumberOfMessages, in flight = …NotVisible,
delayed = …Delayed. SQS keeps no cumulative counters here, so rates come from the flow
balance. `layout=queuelab` reads QueueLab's own queue `Q`: `Q.fifo` and `Q-delay`, or the
priority queues `Q-p0`.., and, as failed, `Q-dead` (the names of `backends/sqs/queue.py`; a
test checks that they agree). Nothing is created: GetQueueUrl and ListQueues only, and
credentials come from the AWS chain as for the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import AsyncExitStack
from typing import Any

from queuelab.core.monitoring import RateDerivation, Sample, derivation
from queuelab.core.urls import redact_url
from queuelab.sources.base import SourceError, option

OPTIONS = ("queue", "layout", "region", "endpoint")
_COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
           "ApproximateNumberOfMessagesDelayed"]


def queuelab_names(queue: str) -> tuple[list[str], str]:
    """QueueLab's work queues (fifo discipline, then priority levels) and dead-letter queue."""
    return [f"{queue}.fifo", f"{queue}-delay", *(f"{queue}-p{n}" for n in range(10))], \
        f"{queue}-dead"


class SqsSource:
    """An SQS queue (or QueueLab's set of them), read through its attributes."""

    method = "SQS GetQueueAttributes (approximate counts)"

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = redact_url(url)
        host = url.partition("://")[2].partition("?")[0].strip("/")
        options = {"queue": host, **{k: v for k, v in options.items() if v}}
        self.queue = option(options, "queue", OPTIONS, self.url)
        self.layout = options.get("layout", "plain") or "plain"
        if self.layout not in ("plain", "queuelab"):
            raise SourceError(f"{self.url}: layout {self.layout!r} is not one of plain, "
                              "queuelab", lasting=True)
        self._region = options.get("region") or "us-east-1"
        self._endpoint = options.get("endpoint") or None
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._urls: dict[str, str] = {}

    @property
    def derivation(self) -> RateDerivation:
        return derivation(arrival_reported=False, arrival_counter=False,
                          completion_reported=False, completion_counter=False)

    async def open(self) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(get_session().create_client(
            "sqs", region_name=self._region, endpoint_url=self._endpoint,
            config=AioConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
        ))  # fmt: skip
        self._stack = stack

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def _find(self) -> tuple[list[str], str | None]:
        """The URLs of the work queues and of the dead-letter queue (None: not QueueLab's)."""
        if self.layout == "plain":
            got = await self._client.get_queue_url(QueueName=self.queue)
            return [got["QueueUrl"]], None
        names, dead = queuelab_names(self.queue)
        listed = await self._client.list_queues(QueueNamePrefix=self.queue)
        by_name = {u.rsplit("/", 1)[-1]: u for u in listed.get("QueueUrls", [])}
        work = [by_name[n] for n in names if n in by_name]
        if not work:
            raise SourceError(f"{self.url}: no QueueLab queue {self.queue!r} here")
        return work, by_name.get(dead)

    async def read(self) -> Sample:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            await self.open()
        try:
            work, dead = await self._find()
            each = await asyncio.gather(*(self._client.get_queue_attributes(
                QueueUrl=u, AttributeNames=_COUNTS) for u in [*work, *([dead] if dead else [])]))
        except SourceError:
            raise
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise SourceError(f"{self.url}: SQS refused ({code})") from None
        except (BotoCoreError, OSError) as exc:
            raise SourceError(f"{self.url}: cannot reach SQS ({type(exc).__name__})") from None
        counts = [[int(r["Attributes"].get(k, 0)) for k in _COUNTS] for r in each]
        main = counts[: len(work)]
        return Sample(
            t=time.time(),
            ready=sum(c[0] for c in main),
            in_flight=sum(c[1] for c in main),
            delayed=sum(c[2] for c in main),
            failed=sum(counts[-1]) if dead else None,
        )
