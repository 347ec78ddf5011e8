"""sqs:// against a real local SQS server (moto's server mode): the shared contract, fifo
and priority. Each test gets queues of its own, deleted after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from queuelab.backends.sqs import SqsQueue

from .contract import BackendSpec, QueueContract


class TestSqsContract(QueueContract):
    backend = "sqs"

    @pytest_asyncio.fixture(autouse=True)
    async def _server_and_cleanup(
        self, spec: BackendSpec, sqs_endpoint: str
    ) -> AsyncIterator[None]:
        yield
        queue = spec.open()
        assert isinstance(queue, SqsQueue)
        await queue.destroy()
        await queue.close()
