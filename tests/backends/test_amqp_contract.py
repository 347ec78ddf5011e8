"""amqp:// against this machine's RabbitMQ: the shared contract, fifo and priority.

Each test gets a queue of its own (`SharedServerSpec`); its ~100 broker objects (main queue,
dead-letter exchange and queue, delay ladder) are deleted after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from queuelab.backends.amqp import AmqpQueue

from .contract import BackendSpec, QueueContract


class TestAmqpContract(QueueContract):
    backend = "amqp"

    @pytest_asyncio.fixture(autouse=True)
    async def _delete_broker_objects(self, spec: BackendSpec) -> AsyncIterator[None]:
        yield
        queue = spec.open()
        assert isinstance(queue, AmqpQueue)
        await queue.destroy()
