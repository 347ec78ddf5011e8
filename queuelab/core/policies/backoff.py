"""Retry with exponential backoff and jitter: how long a failed task waits before its next try.

The textbook worker waits `base * 2^(attempt-1)` and gives up after a fixed number of
attempts. Exponential growth alone keeps retries of a failure burst synchronised, so every
retry wave hits the recovering downstream at once; jitter spreads them out (AWS Architecture
Blog, "Exponential Backoff And Jitter"):

* none:  d = min(max_delay, base_delay * multiplier^(attempt-1))
* full:  uniform(0, d)          - least total load, the blog's recommendation
* equal: d/2 + uniform(0, d/2)  - never retries sooner than half the nominal delay

How the engine waits out the delay - put the task back with a not-before time ("requeue") or
hold the worker while it sleeps ("inline", the textbook way) - is the engine's business, not the
policy's: the delay is the same either way, so `RETRY_MODES` is only exported here.
"""

from __future__ import annotations

import math

from queuelab.core.checks import integer, known, number
from queuelab.core.limits import MAX_MULTIPLIER, MAX_SECONDS, TICK

RETRY_MODES = ("requeue", "inline")
JITTERS = ("none", "full", "equal")

_KNOBS = ("max_attempts", "base_delay", "multiplier", "max_delay", "jitter")
_TABLE_LIMIT = 4096  # nominal delays precomputed; past it (absurdly slow growth) they're computed


class RetryPolicy:
    """Whether a failed task gets another attempt, and the backoff before it.

    `max_attempts` counts every attempt, the first included: 1 means a failure goes straight
    to the dead letters, 3 means two retries. `delay` runs once per failure in a simulation
    doing hundreds of thousands of tasks a second, so the nominal delays are tabulated up
    front and the jitter is one multiplication by the caller's uniform draw.
    """

    __slots__ = (
        "_jitter_code",
        "_table",
        "_tail",
        "_total",
        "base_delay",
        "jitter",
        "max_attempts",
        "max_delay",
        "multiplier",
    )

    def __init__(
        self,
        max_attempts: object,
        base_delay: object,
        multiplier: object = 2.0,
        max_delay: object = 60.0,
        jitter: object = "full",
    ) -> None:
        # Typed `object`: every knob is checked below, with a message naming it. This module
        # is compiled with the simulator (`queuelab.native`), and compiled code would refuse
        # a value of another type than annotated with a bare TypeError before the check ran.
        self._apply(
            {
                "max_attempts": max_attempts,
                "base_delay": base_delay,
                "multiplier": multiplier,
                "max_delay": max_delay,
                "jitter": jitter,
            }
        )

    def _apply(self, knobs: dict[str, object]) -> None:
        max_attempts = integer("max_attempts", knobs["max_attempts"], minimum=1)
        base_delay = number("base_delay", knobs["base_delay"], minimum=0.0,
                            maximum=MAX_SECONDS, tick=TICK)
        multiplier = number("multiplier", knobs["multiplier"], minimum=1.0,
                            maximum=MAX_MULTIPLIER)
        max_delay = number("max_delay", knobs["max_delay"], minimum=0.0,
                           maximum=MAX_SECONDS, tick=TICK)
        if max_delay < base_delay:
            raise ValueError(f"max_delay: must be >= base_delay ({max_delay:g} < {base_delay:g})")
        jitter = knobs["jitter"]
        if jitter not in JITTERS:
            allowed = ", ".join(repr(j) for j in JITTERS)
            raise ValueError(f"jitter: must be one of {allowed} (got {jitter!r})")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.multiplier = multiplier
        self.max_delay = max_delay
        self.jitter = str(jitter)
        self._jitter_code = JITTERS.index(self.jitter)
        self._tabulate()

    def _tabulate(self) -> None:
        """Nominal delays until they saturate, and the total backoff of a task that always fails."""
        table: list[float] = []
        saturated = False
        d = self.base_delay
        while len(table) < _TABLE_LIMIT:
            if d >= self.max_delay:
                table.append(self.max_delay)
                saturated = True
                break
            table.append(d)
            if self.multiplier == 1.0 or d == 0.0:
                saturated = True  # constant from here on: the last entry is the tail
                break
            d *= self.multiplier
        self._table = tuple(table)
        self._tail = table[-1] if saturated else None
        retries = self.max_attempts - 1
        if retries <= len(table):
            self._total = math.fsum(table[:retries])
        elif saturated:
            self._total = math.fsum(table) + (retries - len(table)) * table[-1]
        else:
            # Growth so slow the table ran out: sum the rest as a geometric series.
            m, n = self.multiplier, len(table)
            growing = math.ceil(math.log(self.max_delay / self.base_delay) / math.log(m))
            k = min(retries, growing)
            rest = self.base_delay * m**n * (m ** (k - n) - 1.0) / (m - 1.0) if k > n else 0.0
            self._total = math.fsum(table) + rest + (retries - k) * self.max_delay

    def _compute(self, attempt: int) -> float:
        if self.base_delay == 0.0:
            return 0.0
        try:
            d = self.base_delay * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.max_delay
        return d if d < self.max_delay else self.max_delay

    def should_retry(self, attempts_made: int) -> bool:
        """After `attempts_made` attempts have failed, is another one allowed?"""
        return attempts_made < self.max_attempts

    def nominal_delay(self, attempt: int) -> float:
        """The backoff after failed attempt `attempt` (1-based), without jitter."""
        if attempt < 1:
            raise ValueError(f"attempt: must be >= 1 ({attempt} < 1)")
        if attempt <= len(self._table):
            return self._table[attempt - 1]
        return self._tail if self._tail is not None else self._compute(attempt)

    def delay(self, attempt: int, u: float) -> float:
        """The jittered backoff after failed attempt `attempt` (1-based), in [0, max_delay].

        `u` is the jitter's uniform draw in [0, 1), taken by the caller whatever the jitter
        (one per failed attempt, so the jitter knob never shifts the stream)."""
        table = self._table
        d = table[attempt - 1] if 0 < attempt <= len(table) else self.nominal_delay(attempt)
        code = self._jitter_code
        if code == 0:
            return d
        if code == 1:
            return u * d
        half = d * 0.5
        return half + u * half

    def total_nominal_delay(self) -> float:
        """Backoff waited in all when every attempt fails: the least time to dead letter."""
        return self._total

    def reconfigure(self, **knobs: object) -> None:
        """Change knobs at run time; the new delays apply from the next failure on."""
        known("retry policy", knobs, _KNOBS)
        self._apply({**self.knobs(), **knobs})

    def knobs(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _KNOBS}

    def describe(self) -> str:
        if self.max_attempts == 1:
            return "retry: none (a failure is dead-lettered)"
        shown = [self.nominal_delay(a) for a in range(1, min(self.max_attempts, 5))]
        more = ", …" if self.max_attempts > 5 else ""
        steps = ", ".join(f"{d:g}s" for d in shown)
        return (
            f"retry: {self.max_attempts} attempts, backoff {steps}{more} "
            f"(x{self.multiplier:g}, cap {self.max_delay:g}s, {self.jitter} jitter); a task "
            f"failing every attempt is dead-lettered after {self.total_nominal_delay():g}s "
            f"of backoff{' at most' if self.jitter != 'none' else ''}"
        )

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.knobs().items())
        return f"RetryPolicy({inner})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RetryPolicy):
            return NotImplemented
        return self.knobs() == other.knobs()

    __hash__ = None  # type: ignore[assignment]  # mutable through reconfigure
