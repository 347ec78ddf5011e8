"""The schema, created and upgraded by QueueLab itself when a database is opened.

Migrations are the numbered `.sql` files beside this module. The pending ones are applied
in one transaction (both PostgreSQL and SQLite have transactional DDL), so a database is
always at one whole version, recorded in `queuelab_schema_version`. An up-to-date database
costs one or two cheap queries to check; two processes opening a fresh database at once
take turns (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE).
"""

from __future__ import annotations

import time
from typing import Any

from queuelab.backends.base import BackendError
from queuelab.backends.sql import sqlfiles
from queuelab.backends.sql.ops import Ops


async def current_version(ops: Ops, conn: Any) -> int:
    [[exists]] = await ops.fetch(conn, ops.q["has_version_table"])
    if not exists:
        return 0
    [[version]] = await ops.fetch(conn, ops.q["version"])
    return int(version)


async def migrate(ops: Ops, conn: Any, shown: str) -> int:
    """Apply what is missing; returns the version the database is now at."""
    steps = sqlfiles.migrations(ops.dialect)
    newest = steps[-1][0] if steps else 0
    version = await current_version(ops, conn)
    if version == newest:
        return version
    if version > newest:
        raise BackendError(
            f"{shown}: the database has QueueLab schema version {version}, newer than this "
            f"QueueLab knows ({newest}); upgrade QueueLab to use it"
        )
    async with ops.transaction(conn):
        await ops.lock_schema(conn)
        await ops.fetch(conn, ops.q["version_table"])
        version = await current_version(ops, conn)  # another process may have done it
        for number, name, statements in steps:
            if number <= version:
                continue
            for statement in statements:
                await ops.fetch(conn, statement)
            await ops.fetch(conn, ops.q["record_version"], number, name, time.time())
            version = number
    return version
