"""Tasks, their attempts and their dead letters: the records both engines and every backend share.

A task travels as JSON (never pickle): `Task.to_json` / `Task.from_json` are the one wire
format every backend stores and every pane reads. Times are scenario seconds since the run
started (virtual time in the simulator, scaled wall time in the live runtime), so the
dead-letter pane shows the same thing whichever engine produced the task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSONValue = Any
"""A value `json.dumps` accepts: dict, list, str, int, float, bool or None."""


class Outcome(StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the handler raised (or the failure model said so)
    TIMED_OUT = "timed_out"  # the task timeout cut it short
    REJECTED = "rejected"  # the circuit breaker refused it without running it
    ABANDONED = "abandoned"  # its worker vanished; the lease expired and it came back


@dataclass(slots=True)
class Attempt:
    """One try at a task: when it ran, how it ended and what backoff followed."""

    number: int
    started: float
    ended: float | None = None
    outcome: Outcome | None = None
    error_kind: str = ""
    error: str = ""
    backoff: float | None = None  # delay before the next attempt; None when none followed
    worker: str = ""

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "number": self.number,
            "started": self.started,
            "ended": self.ended,
            "outcome": None if self.outcome is None else str(self.outcome),
            "error_kind": self.error_kind,
            "error": self.error,
            "backoff": self.backoff,
            "worker": self.worker,
        }

    @classmethod
    def from_dict(cls, d: dict[str, JSONValue]) -> Attempt:
        outcome = d.get("outcome")
        return cls(
            number=int(d["number"]),
            started=float(d["started"]),
            ended=None if d.get("ended") is None else float(d["ended"]),
            outcome=None if outcome is None else Outcome(outcome),
            error_kind=str(d.get("error_kind", "")),
            error=str(d.get("error", "")),
            backoff=None if d.get("backoff") is None else float(d["backoff"]),
            worker=str(d.get("worker", "")),
        )


@dataclass(slots=True)
class Task:
    """A unit of work. `attempts` counts attempts started; `history` keeps each one."""

    id: str
    payload: JSONValue = None
    priority: int = 0
    created_at: float = 0.0
    attempts: int = 0
    poison: bool = False  # the failure model marked it to fail every attempt
    history: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "payload": self.payload,
            "priority": self.priority,
            "created_at": self.created_at,
            "attempts": self.attempts,
            "poison": self.poison,
            "history": [a.to_dict() for a in self.history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, JSONValue]) -> Task:
        # Fast path for the shape `to_dict` writes with no history yet (what a claim of a
        # fresh task decodes): the fields are already of their types, so no conversions.
        # Batched claims decode thousands of tasks a second; this halves their cost.
        get = d.get
        i, c, p, a, poison, h = (
            get("id"), get("created_at"), get("priority"), get("attempts"), get("poison"),
            get("history"),
        )  # fmt: skip
        if (
            type(i) is str
            and type(c) is float
            and type(p) is int
            and type(a) is int
            and type(poison) is bool
            and type(h) is list
            and not h
        ):
            return cls(i, get("payload"), p, c, a, poison, [])
        return cls(
            id=str(d["id"]),
            payload=d.get("payload"),
            priority=int(d.get("priority", 0)),
            created_at=float(d.get("created_at", 0.0)),
            attempts=int(d.get("attempts", 0)),
            poison=bool(d.get("poison", False)),
            history=[Attempt.from_dict(a) for a in d.get("history", ())],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Task:
        return cls.from_dict(json.loads(text))


@dataclass(slots=True)
class DeadLetter:
    """A task that exhausted its attempts (or was refused outright), with why and when."""

    task: Task
    error_kind: str
    error: str
    dead_lettered_at: float

    @property
    def id(self) -> str:
        return self.task.id

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "task": self.task.to_dict(),
            "error_kind": self.error_kind,
            "error": self.error,
            "dead_lettered_at": self.dead_lettered_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, JSONValue]) -> DeadLetter:
        return cls(
            task=Task.from_dict(d["task"]),
            error_kind=str(d.get("error_kind", "")),
            error=str(d.get("error", "")),
            dead_lettered_at=float(d.get("dead_lettered_at", 0.0)),
        )

    def matches(self, text: str = "", error_kind: str | None = None) -> bool:
        """The dead-letter pane's filter: a case-insensitive substring and an error kind."""
        if error_kind and self.error_kind != error_kind:
            return False
        if not text:
            return True
        needle = text.lower()
        return (
            needle in self.task.id.lower()
            or needle in self.error.lower()
            or needle in self.error_kind.lower()
            or needle in json.dumps(self.task.payload).lower()
        )


@dataclass(frozen=True, slots=True)
class DeadLetterQuery:
    """A page of the dead-letter queue: filter, then order, then slice.

    Panes page through the engine or backend instead of loading every dead letter.
    `order_by` is one of "dead_lettered_at", "id", "priority", "attempts", "error_kind",
    "created_at".
    """

    text: str = ""
    error_kind: str | None = None
    offset: int = 0
    limit: int = 200
    order_by: str = "dead_lettered_at"
    descending: bool = False


ORDER_KEYS = {
    "dead_lettered_at": lambda d: d.dead_lettered_at,
    "id": lambda d: d.task.id,
    "priority": lambda d: d.task.priority,
    "attempts": lambda d: d.task.attempts,
    "error_kind": lambda d: d.error_kind,
    "created_at": lambda d: d.task.created_at,
}


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """One page of dead letters, and how many match the query in all."""

    items: tuple[DeadLetter, ...]
    total_matching: int
    total: int
    error_kinds: tuple[str, ...] = ()


def page_of(dead: list[DeadLetter], query: DeadLetterQuery) -> DeadLetterPage:
    """Apply a query to dead letters held in memory (the simulator's and memory backend's way)."""
    if query.order_by not in ORDER_KEYS:
        raise ValueError(f"order_by: unknown column {query.order_by!r}")
    matching = [d for d in dead if d.matches(query.text, query.error_kind)]
    if query.order_by != "dead_lettered_at" or query.descending:
        matching.sort(key=ORDER_KEYS[query.order_by], reverse=query.descending)
    window = matching[query.offset : query.offset + query.limit]
    kinds = tuple(sorted({d.error_kind for d in dead}))
    return DeadLetterPage(tuple(window), len(matching), len(dead), kinds)
