"""redis://: the shared contract against this machine's Redis server, FIFO and priority."""

from __future__ import annotations

from .contract import QueueContract


class TestRedisContract(QueueContract):
    backend = "redis"
