"""Tasks, their attempts and their dead letters: the records both engines and every backend share.

A task travels as JSON (never pickle): `Task.to_json` / `Task.from_json` are the one wire
format every backend stores and every pane reads. Times are scenario seconds since the run
started (virtual time in the simulator, scaled wall time in the live runtime), so the
dead-letter pane shows the same thing whichever engine produced the task.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

JSONValue = Any
"""A value `json.dumps` accepts: dict, list, str, int, float, bool or None."""

MAX_PRIORITY = 2**31 - 1
"""Priorities a task may carry: what every backend stores (SQL's integer column)."""

UNDECODABLE = "UndecodableTask"
"""The error kind of a dead letter whose stored body was not a task (see `undecodable.py`)."""


class UndecodableTask(ValueError):
    """A stored body is not a task: not JSON, or JSON of another shape. The message says
    what is wrong, in a line bounded in length (the body may be huge or hostile)."""


def _refuse(what: str, value: object = None) -> NoReturn:
    shown = "" if value is None else f": {_short(value)}"
    raise UndecodableTask(f"{what}{shown}")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(d: dict[str, JSONValue], key: str, default: float) -> float:
    v = d.get(key, default)
    if type(v) not in (int, float) or not math.isfinite(v):
        _refuse(f"{key} is not a finite number", v)
    return float(v)


def _optional_number(d: dict[str, JSONValue], key: str) -> float | None:
    return None if d.get(key) is None else _number(d, key, 0.0)


def _whole(d: dict[str, JSONValue], key: str, default: int) -> int:
    v = d.get(key, default)
    if type(v) is float and math.isfinite(v) and v == int(v):
        return int(v)
    if type(v) is not int:
        _refuse(f"{key} is not a whole number", v)
    return v


def _text(d: dict[str, JSONValue], key: str, default: str) -> str:
    v = d.get(key, default)
    if type(v) is not str:
        _refuse(f"{key} is not text", v)
    return v


def _object(d: object, what: str) -> dict[str, JSONValue]:
    if type(d) is not dict:
        _refuse(f"{what} is not a JSON object", d)
    return d


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
        """Raises `UndecodableTask` naming the first field of a wrong type."""
        d = _object(d, "an attempt")
        if "number" not in d or "started" not in d:
            _refuse("an attempt has no number or start")
        outcome = d.get("outcome")
        if outcome is not None and outcome not in _OUTCOMES:
            _refuse("an attempt's outcome is unknown", outcome)
        return cls(
            number=_whole(d, "number", 0),
            started=_number(d, "started", 0.0),
            ended=_optional_number(d, "ended"),
            outcome=None if outcome is None else Outcome(outcome),
            error_kind=_text(d, "error_kind", ""),
            error=_text(d, "error", ""),
            backoff=_optional_number(d, "backoff"),
            worker=_text(d, "worker", ""),
        )


_OUTCOMES = frozenset(str(o) for o in Outcome)


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
    def from_dict(cls, d: JSONValue) -> Task:
        """The task `to_dict` wrote; anything else raises `UndecodableTask` (a claim must
        never fail later, e.g. re-encoding a NaN, on a body it accepted here)."""
        if type(d) is not dict:
            _refuse("a task is not a JSON object", d)
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
            and i
            and type(c) is float
            and math.isfinite(c)
            and type(p) is int
            and -MAX_PRIORITY <= p <= MAX_PRIORITY
            and type(a) is int
            and a >= 0
            and type(poison) is bool
            and type(h) is list
            and not h
        ):
            return cls(i, get("payload"), p, c, a, poison, [])
        if type(i) is not str or not i:
            _refuse("a task has no id" if i is None else "a task's id is not text", i)
        if type(poison) is not bool and poison is not None:
            _refuse("poison is not true or false", poison)
        if h is not None and type(h) is not list:
            _refuse("history is not a list", h)
        attempts = _whole(d, "attempts", 0)
        if attempts < 0:
            _refuse("attempts is negative", attempts)
        priority = _whole(d, "priority", 0)
        if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
            _refuse("priority is out of range", priority)
        return cls(
            id=i,
            payload=get("payload"),
            priority=priority,
            created_at=_number(d, "created_at", 0.0),
            attempts=attempts,
            poison=bool(poison),
            history=[Attempt.from_dict(a) for a in h or ()],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Task:
        """Decode a stored body; raises `UndecodableTask` for anything but a task's JSON."""
        return cls.from_dict(loads(text))


def _no_constant(name: str) -> NoReturn:
    _refuse("NaN and Infinity are not JSON numbers", name)


def loads(text: str | bytes) -> JSONValue:
    """Strict JSON (no NaN or Infinity, which `to_json` could not write back); any failure,
    bad bytes and nesting too deep included, is an `UndecodableTask`."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except UndecodableTask:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise UndecodableTask(f"not JSON: {_short(str(exc))}") from None


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
        """Raises `UndecodableTask` for anything but what `to_dict` wrote."""
        d = _object(d, "a dead letter")
        return cls(
            task=Task.from_dict(d.get("task")),
            error_kind=_text(d, "error_kind", ""),
            error=_text(d, "error", ""),
            dead_lettered_at=_number(d, "dead_lettered_at", 0.0),
        )


@dataclass(frozen=True, slots=True)
class DeadLetterQuery:
    """A page of the dead-letter queue: filter, then order, then slice.

    Panes page through the engine or backend instead of loading every dead letter; what
    each field means is `core.dead_letter_query`'s rule, the same for every store.
    """

    text: str = ""
    error_kind: str | None = None
    offset: int = 0
    limit: int = 200
    order_by: str = "dead_lettered_at"
    descending: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """One page of dead letters, and how many match the query in all."""

    items: tuple[DeadLetter, ...]
    total_matching: int
    total: int
    error_kinds: tuple[str, ...] = ()
    forgotten: int = 0  # the oldest dead letters a bounded store counts but no longer holds
