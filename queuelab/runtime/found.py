"""What a queue already held when a live run opened it: looked at before anything is touched.

A durable queue outlives the process that filled it, and may belong to someone else: a
previous run's backlog, another program's ready tasks, dead letters a person still has to
read. A live run never deletes them on its own (`LiveEngine(purge=True)`, `--purge` or the
app's question are the only ways): by default it works them off as part of the run, and
its books count them as carried over. Tasks found leased are held by another process (or
by one that died: they come back when their leases run out); a run that finds them shares
its queue from the start.
"""

from __future__ import annotations

from queuelab.backends.base import TaskQueue
from queuelab.core.engine import FoundTasks

__all__ = ["FoundTasks", "inspect"]


async def inspect(queue: TaskQueue) -> FoundTasks:
    """What an opened queue holds now (it is not changed)."""
    c = await queue.counts()
    return FoundTasks(c.ready, c.delayed, c.leased, c.dead, c.approximate)
