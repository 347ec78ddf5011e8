"""The simulator's tasks and workers, in the compact forms a run creates by the million.

A task is a plain list indexed by the constants below, not an object: the event loop
builds one per arrival, and a list literal is built about five times faster than a
slotted instance. Only this package sees the layout; `to_task` turns one into the shared
`core.task.Task` when someone looks (a dead letter in a pane, an export).
"""

from __future__ import annotations

from typing import Any, Final, final

from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import Attempt, Outcome, Task

SimTask = list[Any]
"""[number, priority, created, poison, attempts, first_start, history] and, for a client's
retry only (`[clients]`), an eighth field: which retry of its request it is (1, 2, …)."""

# Final: compiled code reads each index as a literal (a plain module name is a dict lookup).
NUMBER: Final = 0
PRIORITY: Final = 1
CREATED: Final = 2
POISON: Final = 3
ATTEMPTS: Final = 4
FIRST_START: Final = 5
HISTORY: Final = 6
TRIES: Final = 7
# first_start is < 0 until the first attempt starts. history holds failed attempts only,
# as (start, end, outcome, backoff or None, worker number): a task that succeeds at once
# never allocates it.


AttemptRecord = tuple[float, float, Outcome, float | None, int]
"""A failed attempt in a task's history: (start, end, outcome, backoff or None, worker)."""


def history(task: SimTask) -> list[AttemptRecord]:
    """The task's failed attempts, the list made at the first one. Typed, so that compiled
    code appends to it as a list (an append on the task's untyped slot is a method call)."""
    attempts: list[AttemptRecord] | None = task[HISTORY]
    if attempts is None:
        attempts = task[HISTORY] = []
    return attempts


def new_task(number: int, priority: int, created: float, poison: bool) -> SimTask:
    """A task that has just arrived (the event loop writes this literal inline)."""
    return [number, priority, created, poison, 0, -1.0, None]


def sim_task_id(task: SimTask) -> str:
    return task_id(task[NUMBER])


def to_task(task: SimTask, payload_size: int, errors: dict[Outcome, tuple[str, str]]) -> Task:
    """The shared record, its synthetic payload and attempt history filled in.

    `errors` maps a failed attempt's outcome to the (kind, message) it reported.
    """
    attempts = []
    for i, (start, end, outcome, backoff, worker) in enumerate(task[HISTORY] or (), 1):
        kind, message = errors.get(outcome, ("", ""))
        attempts.append(Attempt(i, start, end, outcome, kind, message, backoff, f"w{worker}"))
    return Task(
        id=sim_task_id(task),
        payload=synthetic_payload(task[NUMBER], task[PRIORITY], payload_size),
        priority=task[PRIORITY],
        created_at=task[CREATED],
        attempts=task[ATTEMPTS],
        poison=task[POISON],
        history=attempts,
    )


class SimWorker:
    """One worker of the pool (or one slot of the semaphore)."""

    __slots__ = (
        "alive", "drained_at", "draining", "duration", "epoch", "failed", "name", "number",
        "outcome",
        "processed", "since", "started", "state", "task",
    )

    def __init__(self, number: int, name: str, since: float, state: WorkerState) -> None:
        self.number = number
        self.name = name
        self.since = since
        self.state = state
        self.alive = True
        self.draining = False
        self.drained_at = -1.0  # when it was last asked to drain (its termination grace)
        self.task: SimTask | None = None
        self.processed = 0
        self.failed = 0
        self.started = 0.0  # when the current attempt started
        self.duration = 0.0  # how long it runs
        # How the current attempt will end, drawn when it starts so the run stays deterministic.
        self.outcome = Outcome.SUCCEEDED
        self.epoch = 0  # the circuit breaker's epoch when the attempt started

    def info(self) -> WorkerInfo:
        state = WorkerState.DRAINING if self.draining else self.state
        task = sim_task_id(self.task) if self.task is not None else None
        return WorkerInfo(self.name, state, task, self.processed, self.failed, self.since)


@final
class Event:
    """One entry of the event heap: when it falls due, its place among events due at the
    same time (the order they were scheduled in), what happens (an event code) and to whom.

    A compiled class, not a tuple: heapq orders entries with `<`, and a tuple compares its
    float and then its int through generic rich comparisons (~190 instructions, a seventh
    of a run); this compares two doubles, and the sequence numbers only on a tie.
    """

    __slots__ = ("code", "seq", "subject", "time")

    def __init__(self, time: float, seq: int, code: int, subject: Any) -> None:
        self.time = time
        self.seq = seq
        self.code = code
        self.subject = subject

    def __lt__(self, other: Event) -> bool:
        if self.time != other.time:
            return self.time < other.time
        return self.seq < other.seq
