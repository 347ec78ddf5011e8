"""How many tasks a consumer may run, and claim, at once: the semaphore pool as a pure counter.

A semaphore worker pool acquires a slot, then dequeues. Here the slot count
is a plain counter so the simulator and the live runtime share it: the live pool wraps it in
its own waiting (an asyncio event), the simulator in its event heap. Prefetch lets a consumer
claim a few tasks ahead of its free slots, as AMQP's `basic.qos` prefetch does, so a slot that
frees up finds its next task already local instead of waiting one round trip to the backend.
"""

from __future__ import annotations

from queuelab.core.checks import integer, known


class ConcurrencyLimit:
    """A semaphore without waiting: at most `capacity` tasks run at once, `prefetch` more wait.

    Lowering the capacity below `in_use` revokes nothing: running tasks finish, and their
    slots simply are not handed out again until `in_use` drops under the new capacity. That
    is what makes the knob safe to turn while a run is live.
    """

    __slots__ = ("_capacity", "_in_use", "_prefetch")

    def __init__(self, capacity: int, prefetch: int = 0) -> None:
        self._capacity = integer("capacity", capacity, minimum=1)
        self._prefetch = integer("prefetch", prefetch, minimum=0)
        self._in_use = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def prefetch(self) -> int:
        return self._prefetch

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def available(self) -> int:
        """Slots free now; 0 (never negative) while a lowered capacity is still draining."""
        free = self._capacity - self._in_use
        return free if free > 0 else 0

    def try_acquire(self) -> bool:
        """Take a slot if one is free; the caller must `release()` it when the task ends."""
        if self._in_use < self._capacity:
            self._in_use += 1
            return True
        return False

    def release(self) -> None:
        if self._in_use <= 0:
            raise RuntimeError("ConcurrencyLimit.release() without a matching try_acquire()")
        self._in_use -= 1

    def claim_budget(self, in_flight: int) -> int:
        """How many more tasks the consumer may claim now, given `in_flight` already claimed.

        `in_flight` counts every claimed, unfinished task: running ones and prefetched ones
        waiting for a slot. Claims stop at `capacity + prefetch` so a consumer never hoards
        more than it can start soon (hoarded tasks are invisible to the other consumers).
        """
        budget = self._capacity + self._prefetch - in_flight
        return budget if budget > 0 else 0

    def set_capacity(self, capacity: int) -> None:
        self._capacity = integer("capacity", capacity, minimum=1)

    def set_prefetch(self, prefetch: int) -> None:
        self._prefetch = integer("prefetch", prefetch, minimum=0)

    def reconfigure(self, **knobs: object) -> None:
        """Change `capacity` and/or `prefetch` at run time; all are checked before any applies."""
        known("concurrency limit", knobs, ("capacity", "prefetch"))
        capacity = integer("capacity", knobs.get("capacity", self._capacity), minimum=1)
        prefetch = integer("prefetch", knobs.get("prefetch", self._prefetch), minimum=0)
        self._capacity, self._prefetch = capacity, prefetch

    def knobs(self) -> dict[str, int]:
        return {"capacity": self._capacity, "prefetch": self._prefetch}

    def describe(self) -> str:
        ahead = f" + {self._prefetch} prefetched" if self._prefetch else ""
        return f"concurrency {self._in_use}/{self._capacity} in use{ahead}"

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimit(capacity={self._capacity}, prefetch={self._prefetch}, "
            f"in_use={self._in_use})"
        )
