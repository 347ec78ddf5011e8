"""The simulator's tasks and workers: slot classes, because a run creates millions of them.

They are the simulator's private, compact form; `core.task.Task` is built from a
`SimTask` only when someone looks (a dead letter in a pane, an export).
"""

from __future__ import annotations

from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import Attempt, Outcome, Task


class SimTask:
    """One task: its number, level, arrival time, attempts so far and failed-attempt history."""

    __slots__ = ("attempts", "created", "first_start", "history", "number", "poison", "priority")

    def __init__(self, number: int, priority: int, created: float, poison: bool) -> None:
        self.number = number
        self.priority = priority
        self.created = created
        self.poison = poison
        self.attempts = 0
        self.first_start = -1.0  # < 0 until the first attempt starts
        # Failed attempts only, as (start, end, outcome, backoff or None, worker number):
        # a task that succeeds at once never allocates this list.
        self.history: list[tuple[float, float, Outcome, float | None, int]] | None = None

    @property
    def id(self) -> str:
        return task_id(self.number)

    def to_task(self, payload_size: int, errors: dict[Outcome, tuple[str, str]]) -> Task:
        """The shared record, its synthetic payload and attempt history filled in.

        `errors` maps a failed attempt's outcome to the (kind, message) it reported.
        """
        attempts = []
        for i, (start, end, outcome, backoff, worker) in enumerate(self.history or (), 1):
            kind, message = errors.get(outcome, ("", ""))
            attempts.append(Attempt(i, start, end, outcome, kind, message, backoff, f"w{worker}"))
        return Task(
            id=self.id,
            payload=synthetic_payload(self.number, self.priority, payload_size),
            priority=self.priority,
            created_at=self.created,
            attempts=self.attempts,
            poison=self.poison,
            history=attempts,
        )


class SimWorker:
    """One worker of the pool (or one slot of the semaphore)."""

    __slots__ = (
        "alive", "draining", "duration", "epoch", "failed", "name", "number", "outcome",
        "processed", "since", "started", "state", "task",
    )

    def __init__(self, number: int, name: str, since: float, state: WorkerState) -> None:
        self.number = number
        self.name = name
        self.since = since
        self.state = state
        self.alive = True
        self.draining = False
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
        task = self.task.id if self.task is not None else None
        return WorkerInfo(self.name, state, task, self.processed, self.failed, self.since)
