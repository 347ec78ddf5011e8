"""How a pool reaches a new size without ever killing a busy worker.

Both engines (and the semaphore's slots) follow the same plan: to grow, first keep workers
that were draining, then add new ones; to shrink, first drop workers still starting (they
have done nothing yet), then idle ones, newest first, and only then ask busy ones to drain:
finish the task in hand, then leave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

W = TypeVar("W")


@dataclass(frozen=True, slots=True)
class ResizePlan(Generic[W]):
    """What to do to reach the target: each list newest first."""

    undrain: tuple[W, ...] = ()  # draining workers asked to stay
    add: int = 0  # new workers to start
    remove: tuple[W, ...] = ()  # starting or idle workers that leave now
    drain: tuple[W, ...] = ()  # busy workers that leave after their task


def plan_resize(
    members: Sequence[W],
    target: int,
    *,
    draining: Callable[[W], bool],
    starting: Callable[[W], bool],
    idle: Callable[[W], bool],
) -> ResizePlan[W]:
    """The plan that takes `members` (oldest first) to `target` counted (not draining) ones."""
    if target < 0:
        raise ValueError(f"target: must be >= 0 (got {target})")
    newest_first = list(reversed(members))
    staying = [w for w in newest_first if not draining(w)]
    diff = target - len(staying)
    if diff > 0:
        undrain = tuple(w for w in newest_first if draining(w))[:diff]
        return ResizePlan(undrain=undrain, add=diff - len(undrain))
    if diff == 0:
        return ResizePlan()
    excess = -diff
    remove = [w for w in staying if starting(w)][:excess]
    if len(remove) < excess:
        remove += [w for w in staying if idle(w) and not starting(w)][:excess - len(remove)]
    leaving = set(map(id, remove))
    drain = tuple(w for w in staying if id(w) not in leaving)[:excess - len(remove)]
    return ResizePlan(remove=tuple(remove), drain=drain)
