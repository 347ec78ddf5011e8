"""How many tasks a consumer may run, and claim, at once: the semaphore pool as a pure counter.

A semaphore worker pool acquires a slot, then dequeues. Here the slot count
is a plain counter so the simulator and the live runtime share it: the live pool wraps it in
its own waiting (an asyncio event), the simulator in its event heap. Prefetch lets a consumer
claim a few tasks ahead of its free slots, as AMQP's `basic.qos` prefetch does, so a slot that
frees up finds its next task already local instead of waiting one round trip to the backend.

This module also holds the knob checks every policy uses, so a refused value reads the same
wherever it comes from: `<knob>: <rule> (<why>)`, e.g. `capacity: must be >= 1 (0 < 1)`.
"""

from __future__ import annotations

import math


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return `value` if it is an int (not a bool) >= `minimum`, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer (got {value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: must be >= {minimum} ({value} < {minimum})")
    return value


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    """Return `value` as a float if it is finite and in range, else raise ValueError.

    `minimum` and `maximum` are inclusive bounds, `above` a strict one.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number (got {value!r})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be a finite number (got {value!r})")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name}: must be >= {minimum:g} ({number:g} < {minimum:g})")
    if above is not None and number <= above:
        raise ValueError(f"{name}: must be > {above:g} ({number:g} <= {above:g})")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name}: must be <= {maximum:g} ({number:g} > {maximum:g})")
    return number


def check_known(kind: str, knobs: dict[str, object], known: tuple[str, ...]) -> None:
    """Refuse knob names a policy does not have, naming the ones it does."""
    for name in knobs:
        if name not in known:
            raise ValueError(f"{name}: not a knob of the {kind} (known: {', '.join(known)})")


class ConcurrencyLimit:
    """A semaphore without waiting: at most `capacity` tasks run at once, `prefetch` more wait.

    Lowering the capacity below `in_use` revokes nothing: running tasks finish, and their
    slots simply are not handed out again until `in_use` drops under the new capacity. That
    is what makes the knob safe to turn while a run is live.
    """

    __slots__ = ("_capacity", "_in_use", "_prefetch")

    def __init__(self, capacity: int, prefetch: int = 0) -> None:
        self._capacity = check_int("capacity", capacity, minimum=1)
        self._prefetch = check_int("prefetch", prefetch, minimum=0)
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
        self._capacity = check_int("capacity", capacity, minimum=1)

    def set_prefetch(self, prefetch: int) -> None:
        self._prefetch = check_int("prefetch", prefetch, minimum=0)

    def reconfigure(self, **knobs: object) -> None:
        """Change `capacity` and/or `prefetch` at run time; all are checked before any applies."""
        check_known("concurrency limit", knobs, ("capacity", "prefetch"))
        capacity = check_int("capacity", knobs.get("capacity", self._capacity), minimum=1)
        prefetch = check_int("prefetch", knobs.get("prefetch", self._prefetch), minimum=0)
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
