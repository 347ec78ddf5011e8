"""nats:// against this machine's NATS server (JetStream): the shared contract, fifo and
priority. Each test gets streams of its own, deleted after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from queuelab.backends.nats_queue import NatsQueue

from .contract import BackendSpec, QueueContract


class TestNatsContract(QueueContract):
    backend = "nats"

    @pytest_asyncio.fixture(autouse=True)
    async def _delete_streams(self, spec: BackendSpec) -> AsyncIterator[None]:
        yield
        queue = spec.open()
        assert isinstance(queue, NatsQueue)
        await queue.destroy()
        await queue.close()
