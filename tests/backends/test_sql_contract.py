"""sqlite:// and postgresql://: the shared contract (specs in conftest.py)."""

from __future__ import annotations

from .contract import QueueContract


class TestSqliteContract(QueueContract):
    backend = "sqlite"


class TestPostgresContract(QueueContract):
    backend = "postgresql"
