"""Knob changes while running: which model or policy each knob reaches, and the change log.

Both engines apply a changed knob by looking it up here (`route`) and acting on the route,
never on the knob's name, so a knob reaches the same thing in the simulator and the live
engine, and a new knob is routed once. `ChangeLog` is the record of what was changed when
(knobs and dead-letter actions), which the plots mark; both engines keep one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from queuelab.core.engine import AppliedChange


class Route(StrEnum):
    ARRIVALS = "arrivals"  # a new arrival process; the pending arrival is drawn from it
    SERVICE = "service"  # a new service-time distribution on the same stream
    FAILURES = "failures"  # new failure thresholds and priority mix, on the same streams
    RETRY = "retry"  # retry policy, retry mode and task timeout: from the next use
    BREAKER = "breaker"  # the breaker rebuilt; workers it held back may start
    WORKERS = "workers"  # the pool resized to its new starting size
    CONCURRENCY = "concurrency"  # the semaphore's slots resized
    PREFETCH = "prefetch"  # the semaphore claims this far ahead
    STARTUP_DELAY = "startup delay"  # read by the next cold start
    TERMINATION_GRACE = "termination grace"  # read by the next drain
    CHECK_INTERVAL = "check interval"  # the autoscaler's next check re-planned
    AUTOSCALER = "autoscaler"  # an autoscaler of another kind
    AUTOSCALER_KNOBS = "autoscaler knobs"  # the autoscaler reconfigured
    POOL_BOUNDS = "pool bounds"  # reconfigured, and the pool brought within the new bounds
    DURATION = "duration"  # the run ends at the new time
    CLAIMS = "claims"  # lease, batch, payload size: read at the next claim or enqueue
    CLIENTS = "clients"  # the callers' timeout, retries, budget: from the next send or timeout


POOL_ROUTES = frozenset({Route.WORKERS, Route.CONCURRENCY, Route.PREFETCH,
                         Route.STARTUP_DELAY, Route.TERMINATION_GRACE})
"""The routes that end at the pool itself (the rest at models, policies or the run)."""

_ALL = None
_WORKER_POOLS = frozenset({"single", "fixed", "dynamic"})
_SEMAPHORE = frozenset({"semaphore"})
_DYNAMIC = frozenset({"dynamic"})

ROUTES: dict[str, tuple[Route, frozenset[str] | None]] = {
    "arrivals": (Route.ARRIVALS, _ALL),
    "service": (Route.SERVICE, _ALL),
    "failures": (Route.FAILURES, _ALL),
    "priorities": (Route.FAILURES, _ALL),
    "retry": (Route.RETRY, _ALL),
    "timeouts": (Route.RETRY, _ALL),
    "breaker": (Route.BREAKER, _ALL),
    "pool.workers": (Route.WORKERS, frozenset({"fixed", "dynamic"})),
    "pool.concurrency": (Route.CONCURRENCY, _SEMAPHORE),
    "pool.prefetch": (Route.PREFETCH, _SEMAPHORE),
    "pool.startup_delay": (Route.STARTUP_DELAY, _WORKER_POOLS),
    "pool.termination_grace": (Route.TERMINATION_GRACE, frozenset({"fixed", "dynamic"})),
    "pool.check_interval": (Route.CHECK_INTERVAL, _DYNAMIC),
    "pool.autoscaler": (Route.AUTOSCALER, _DYNAMIC),
    "pool.min_workers": (Route.POOL_BOUNDS, _DYNAMIC),
    "pool.max_workers": (Route.POOL_BOUNDS, _DYNAMIC),
    "pool": (Route.AUTOSCALER_KNOBS, _DYNAMIC),  # every other pool knob is the autoscaler's
    "run.duration": (Route.DURATION, _ALL),
    "queue.lease": (Route.CLAIMS, _ALL),
    "queue.batch": (Route.CLAIMS, _ALL),
    "payload.size": (Route.CLAIMS, _ALL),
    "clients": (Route.CLIENTS, _ALL),
}
"""A knob path (or a whole section) and the route it takes, under the pool strategies named
(None: all of them); tests/core/test_changes.py checks that every live knob has one."""


def route(path: str, strategy: str) -> Route | None:
    """Where a change of `path` goes under the pool `strategy`; None: nowhere (the knob means
    nothing to this pool, e.g. `prefetch` to a fixed pool: it is only recorded)."""
    entry = ROUTES.get(path) or ROUTES.get(path.split(".", 1)[0])
    if entry is None:
        return None
    target, strategies = entry
    return target if strategies is None or strategy in strategies else None


class ChangeLog:
    """What was changed, when, from which value to which: the plots' markers, oldest first."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[AppliedChange] = []

    def knob(self, t: float, path: str, old: Any, new: Any) -> AppliedChange:
        applied = AppliedChange(t, path, old, new)
        self.entries.append(applied)
        return applied

    def dead_letter_action(self, t: float, path: str, n: int, remaining: int,
                           merge_within: float) -> None:
        """`n` dead letters reprocessed or discarded (`path`), `remaining` left after them.

        A bulk action arrives in slices; slices within `merge_within` (a sample interval) of
        the first make one marker (the plots could not tell them apart), so `old - new`
        counts them all.
        """
        entries = self.entries
        last = entries[-1] if entries else None
        if last is not None and last.path == path and t - last.t < merge_within:
            entries[-1] = AppliedChange(last.t, path, last.old, last.new - n)
        else:
            entries.append(AppliedChange(t, path, remaining + n, remaining))


def in_force(path: str, current: Any, changes: Sequence[AppliedChange]
             ) -> list[tuple[float, Any]]:
    """The values `path` held over a run, as (from time, value) steps, oldest first.

    `current` is the value now (the scenario after every change); the change log says when
    it was changed and from what, so the run's first value is the oldest change's `old`.
    """
    mine = [c for c in changes if c.path == path]
    if not mine:
        return [(-math.inf, current)]
    steps = [(-math.inf, mine[0].old)]
    steps += [(c.t, c.new) for c in mine]
    return steps


def value_at(steps: Sequence[tuple[float, Any]], t: float) -> Any:
    """The value in force at time `t` (a change at t applies from t on)."""
    value = steps[0][1]
    for start, v in steps:
        if start > t:
            break
        value = v
    return value
