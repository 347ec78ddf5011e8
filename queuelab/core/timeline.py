"""Scripted knob changes: a scenario's `[[timeline]]`, and the player both engines run it with.

A timeline entry sets one live knob at a scenario time and, with `duration` (`for` in a
file), restores the value it replaced once that long has passed. The entries are changes
like any made by hand: both engines hand each one to their `apply`, so it is validated,
routed (`core.changes`) and logged (the plots mark it) exactly as a manual change is. The
player only says which change is due when; the simulator wakes it through its event heap,
the live engine through its scenario clock.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 100
"""Entries a timeline may hold: each is checked by playing the whole timeline (quadratic),
and a lesson needs a handful."""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """At scenario time `at`, set knob `path` to `value`; after `duration` (0: never) put
    back the value it replaced. `label` names the moment on the plots and in the file."""

    at: float
    path: str
    value: Any
    duration: float = 0.0
    label: str = ""


@dataclass(frozen=True, slots=True)
class TimedChange:
    """One change the timeline makes: when, what, and which entry it comes from."""

    at: float
    path: str
    value: Any
    index: int  # the entry's position in the timeline
    restore: bool  # the end of an entry's `for`, putting back the value it replaced


class TimelinePlayer:
    """The timeline's changes in time order (ties: file order, a set before its restore).

    A restore is scheduled when its set is played, with the value the knob held just before
    the set (read through `current`), so a change made by hand in between is not undone
    by a stale value from the file.
    """

    __slots__ = ("_entries", "_pending", "_seq")

    def __init__(self, entries: Sequence[TimelineEntry]) -> None:
        self._pending: list[tuple[float, int, int, bool, Any]] = [
            (e.at, i, i, False, e.value) for i, e in enumerate(entries)]
        heapq.heapify(self._pending)
        self._seq = len(entries)
        self._entries = tuple(entries)

    def next_at(self) -> float:
        """When the next change is due (inf: none is left)."""
        return self._pending[0][0] if self._pending else math.inf

    def due(self, now: float) -> list[TimedChange]:
        """The changes due at or before `now`, in the order `pop` plays them, unplayed."""
        return [TimedChange(at, self._entries[index].path, value, index, restore)
                for at, _, index, restore, value in sorted(self._pending) if at <= now]

    def pop(self, now: float, current: Callable[[str], Any]) -> TimedChange | None:
        """The next change due at or before `now`, or None; `current(path)` reads the value
        in force, for the restore of an entry with a duration."""
        if not self._pending or self._pending[0][0] > now:
            return None
        at, _, index, restore, value = heapq.heappop(self._pending)
        entry = self._entries[index]
        if not restore and entry.duration > 0:
            heapq.heappush(self._pending, (at + entry.duration, self._seq, index, True,
                                           current(entry.path)))
            self._seq += 1
        return TimedChange(at, entry.path, value, index, restore)


def play_due(player: TimelinePlayer, t: float, current: Callable[[str], Any],
             apply: Callable[[str, Any], object]) -> list[str]:
    """Hand every change due at `t` to an engine's `apply(path, value)`; what it refused.

    A change the scenario refuses by then (a hand-made change in between can make it clash:
    `apply` raises ScenarioError, a ValueError) is skipped and said, and the run goes on.
    """
    skipped = []
    while (due := player.pop(t, current)) is not None:
        try:
            apply(due.path, due.value)
        except ValueError as exc:
            skipped.append(f"timeline[{due.index}] at {t:g} s skipped: {exc}")
    return skipped


def moment_of(entries: Sequence[TimelineEntry], path: str, t: float
              ) -> tuple[float, TimelineEntry, bool] | None:
    """Which moment of the timeline changed `path` at `t`: its scripted time, its entry and
    whether it was the restore at the end of a `for`; None if no moment of it is due by `t`.

    A change is logged at its moment in the simulator and just after it in the live engine
    (its clock moves on while it plays), so the latest moment of `path` by `t` is the one;
    of moments at one time, the one `TimelinePlayer` plays last.
    """
    # play order: time; sets in file order; then restores in the order their sets played
    moments = [((e.at, False, 0.0, i), e) for i, e in enumerate(entries) if e.path == path]
    moments += [((e.at + e.duration, True, e.at, i), e) for i, e in enumerate(entries)
                if e.path == path and e.duration > 0]
    due = [m for m in moments if m[0][0] <= t]
    if not due:
        return None
    key, entry = max(due, key=lambda m: m[0])
    return key[0], entry, key[1]
