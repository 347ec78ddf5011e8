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

from dataclasses import dataclass

from queuelab.backends.base import QueueCounts, TaskQueue


@dataclass(frozen=True, slots=True)
class FoundTasks:
    """A queue's contents before a run, by place (the backend's counts)."""

    waiting: int = 0  # ready to be claimed
    retrying: int = 0  # waiting out a retry delay
    in_flight: int = 0  # leased by another process (or by one that died)
    dead: int = 0  # dead letters

    @classmethod
    def of(cls, counts: QueueCounts) -> FoundTasks:
        return cls(counts.ready, counts.delayed, counts.leased, counts.dead)

    @property
    def tasks(self) -> int:
        """Tasks still to be worked (not dead letters)."""
        return self.waiting + self.retrying + self.in_flight

    @property
    def total(self) -> int:
        return self.tasks + self.dead

    def __bool__(self) -> bool:
        return self.total > 0

    def describe(self) -> str:
        """'245 waiting, 3 retrying, 2 in flight and 19 dead letters' (the non-zero ones)."""
        parts = [f"{n:,} {what}" for n, what in (
            (self.waiting, "waiting"), (self.retrying, "retrying"),
            (self.in_flight, "in flight"),
            (self.dead, "dead letter" if self.dead == 1 else "dead letters")) if n]
        if not parts:
            return "nothing"
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


async def inspect(queue: TaskQueue) -> FoundTasks:
    """What an opened queue holds now (it is not changed)."""
    return FoundTasks.of(await queue.counts())
