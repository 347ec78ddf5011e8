"""The Engine contract: how the GUI and the CLI drive either engine, simulated or live.

Both engines implement `Engine`. The window never asks which one it holds: it calls
`advance` from a timer, drains `take_frames`, shows `workers` and `totals`, and sends
`ParamChange`s through `apply`. Dead-letter calls are coroutines because a live backend
answers them over the network; the simulator answers at once. What only one engine needs
(opening a backend, waiting for background work, auditing the books against a backend) is
part of the contract too, a no-op where it means nothing, so no caller has to ask what an
engine can do. `drive` is the one loop that runs an engine to its end outside the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from queuelab.core.scenario import KNOBS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from queuelab.core.metrics import MetricsFrame, RunSummary
    from queuelab.core.scenario import Scenario
    from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery
    from queuelab.core.theory import MMcPrediction
    from queuelab.core.validation import ParamChange


class RunState(StrEnum):
    IDLE = "idle"  # built, not started
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # draining in-flight work
    FINISHED = "finished"  # reached its duration or was stopped


class WorkerState(StrEnum):
    STARTING = "starting"  # cold start: exists, takes no work yet
    IDLE = "idle"
    BUSY = "busy"
    BACKING_OFF = "backing off"  # inline retry: asleep through the backoff, holding the task
    DRAINING = "draining"  # asked to leave; finishes its task first
    BLOCKED = "blocked"  # the circuit breaker is open


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One row of the workers table."""

    id: str
    state: WorkerState
    task_id: str | None
    processed: int
    failed: int
    since: float  # scenario time the worker was created


@dataclass(frozen=True, slots=True)
class Totals:
    """Where every task ever in the run's books is now: `created` plus `carried_over` equals
    the sum of the others.

    `discarded` counts dead letters a person deleted on purpose: they left the system by a
    decision, not by loss, and the balance still accounts for each of them.
    `carried_over` counts the tasks (and dead letters) a live run found in its queue when
    it began and chose to work off rather than delete: they are in the books, not created.
    `by_others` is kept only for a queue shared with other processes (`shared`): the tasks
    they took off the queue, net of any they added; the other places are then the
    backend's counts, since this run alone cannot know where another process put a task.
    """

    created: int
    waiting: int
    in_flight: int
    retrying: int
    done: int
    dead_lettered: int
    discarded: int = 0
    carried_over: int = 0
    by_others: int = 0
    shared: bool = False
    rejected: int = 0  # arrivals turned away by `[queue] max_length` (load shedding)
    abandoned: int = 0  # tasks whose caller gave up, dropped unserved (`[clients]`)

    @property
    def balanced(self) -> bool:
        return self.created + self.carried_over == (
            self.waiting + self.in_flight + self.retrying + self.done + self.dead_lettered
            + self.discarded + self.by_others + self.rejected + self.abandoned
        )

    def describe(self) -> str:
        """The status-bar sentence: created [+ carried over] = waiting + in flight + … ."""
        carried = f" + carried over {self.carried_over:,}" if self.carried_over else ""
        text = (
            f"created {self.created:,}{carried} = waiting {self.waiting:,} + in flight "
            f"{self.in_flight:,} + retrying {self.retrying:,} + done {self.done:,} + dead "
            f"{self.dead_lettered:,}"
        )
        if self.discarded:
            text += f" + discarded {self.discarded:,}"
        if self.rejected:
            text += f" + rejected {self.rejected:,}"
        if self.abandoned:
            text += f" + abandoned {self.abandoned:,}"
        if self.shared and self.by_others >= 0:
            text += f" + taken by other processes {self.by_others:,}"
        elif self.shared:  # the others added more than they took
            text += f" - added by other processes {-self.by_others:,}"
        return text if self.balanced else text + "  (UNBALANCED)"

    def check(self) -> Totals:
        """Return self, or raise AssertionError naming the mismatch (a lost or doubled task)."""
        if not self.balanced:
            raise AssertionError(f"conservation broken: {self}")
        return self


@dataclass(frozen=True, slots=True)
class FoundTasks:
    """What a live run's queue held before the run touched it, by place (the backend's
    counts; `runtime.found` takes them). Nothing here is deleted without consent."""

    waiting: int = 0  # ready to be claimed
    retrying: int = 0  # waiting out a retry delay
    in_flight: int = 0  # leased by another process (or by one that died)
    dead: int = 0  # dead letters
    #: the backend said its counts lag (see QueueCounts); not part of equality
    approximate: bool = field(default=False, compare=False)

    @property
    def tasks(self) -> int:
        """Tasks still to be worked (not dead letters)."""
        return self.waiting + self.retrying + self.in_flight

    @property
    def total(self) -> int:
        return self.tasks + self.dead

    def __bool__(self) -> bool:
        return self.total > 0

    def describe(self) -> str:
        """'245 waiting, 3 retrying, 2 in flight and 19 dead letters' (the non-zero ones)."""
        parts = [f"{n:,} {what}" for n, what in (
            (self.waiting, "waiting"), (self.retrying, "retrying"),
            (self.in_flight, "in flight"),
            (self.dead, "dead letter" if self.dead == 1 else "dead letters")) if n]
        if not parts:
            return "nothing"
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """A change the engine applied, at which scenario time, from which value: a plot marker."""

    t: float
    path: str
    old: Any
    new: Any

    def label(self) -> str:
        if self.path.startswith("alert."):  # the monitor's alerts: new holds their text
            return f"alert: {self.new}"
        verb = DEAD_LETTER_ACTIONS.get(self.path)
        if verb is not None:  # old and new are dead-letter counts: the step is the action
            n = self.old - self.new
            return f"{verb} {n:,} dead letter{'' if n == 1 else 's'}"
        info = KNOBS.get(self.path)
        name = info.knob.label if info else self.path.split(".", 1)[-1]
        unit = f" {info.knob.unit}" if info and info.knob.unit else ""
        return f"{name} {_short(self.old)} → {_short(self.new)}{unit}"


DEAD_LETTER_ACTIONS = {"dead_letters.reprocess": "reprocessed",
                       "dead_letters.discard": "discarded"}
"""Actions on the dead-letter queue an engine records as changes, so the plots mark them."""


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class EngineFacts:
    """The scenario in force and the run state, kept and read the same way by the engines
    that run interpreted (live, monitor). The compiled simulator keeps its own two
    accessors: a mypyc class cannot inherit from an interpreted one."""

    _scenario: Scenario
    _state: RunState

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @property
    def state(self) -> RunState:
        return self._state


class Engine(Protocol):
    """What a window or the CLI may ask of an engine."""

    kind: str  # "simulated" or "live"

    @property
    def scenario(self) -> Scenario: ...
    @property
    def now(self) -> float: ...  # scenario seconds since the run started
    @property
    def state(self) -> RunState: ...

    @property
    def opened(self) -> bool:
        """Ready to start: a live engine once its backend is open; the simulator always."""
        ...

    async def open(self) -> None:
        """Get ready to start (a live engine opens its backend and looks at what it holds:
        `found`); awaiting it first lets a caller report an unreachable backend, and ask what
        to do with what the queue holds. Idempotent."""
        ...

    @property
    def found(self) -> FoundTasks:
        """What the queue held when opened, kept unless purged (the simulator's: nothing)."""
        ...

    async def purge_found(self) -> FoundTasks:
        """Delete what the queue held, after `open` and before `start`, only when a person
        (or `--purge`) said so; returns what was deleted."""
        ...

    @property
    def shared(self) -> str | None:
        """Why the queue is known to be worked by other processes too (then the books are
        the backend's and there is no theory to compare with), or None."""
        ...

    async def aclose(self) -> None:
        """Close what `open` opened, once the run is over (idempotent; the simulator: nothing)."""
        ...

    def start(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    async def stop(self, drain: bool = True) -> None: ...

    def step(self) -> bool:
        """Advance by one event (simulated) or one sample (live); False when finished."""
        ...

    def set_speed(self, speed: float | None) -> None:
        """Scenario seconds per wall second; None = as fast as possible. Simulated only."""
        ...

    def advance(self, budget: float) -> None:
        """Let the engine work for at most `budget` wall seconds (a GUI timer slice)."""
        ...

    async def run_slice(self, budget: float) -> None:
        """Let the run go on for about `budget` wall seconds, then return to the caller's loop:
        the simulator computes for that long, the live engine waits while its workers run
        (less when the run ends first)."""
        ...

    async def wait(self) -> None:
        """Until the run is over; raises what made it fail (the live engine's background
        tasks; the simulator fails in the caller's own call, so it returns at once)."""
        ...

    def reference(self) -> MMcPrediction | None:
        """Erlang C's prediction when the scenario is M/M/c, else None."""
        ...

    @property
    def notices(self) -> Sequence[str]:
        """Warnings about the queue found when it was opened (a backend that would lose data
        on a restart …); the simulator's queue has none."""
        ...

    @property
    def audit_failures(self) -> Sequence[tuple[float, str]]:
        """(time, what differed) where the books disagreed with the backend's counts; the
        simulator's books are its queue, so none."""
        ...

    def apply(self, change: ParamChange) -> AppliedChange:
        """Validate and apply a change at the current time; raises ScenarioError."""
        ...

    @property
    def changes(self) -> Sequence[AppliedChange]: ...

    def take_frames(self) -> list[MetricsFrame]:
        """Frames produced since the last call (bounded buffer)."""
        ...

    def workers(self) -> list[WorkerInfo]: ...
    def totals(self) -> Totals: ...
    def summary(self) -> RunSummary: ...

    async def dead_letters(self, query: DeadLetterQuery) -> DeadLetterPage: ...
    async def get_dead_letter(self, task_id: str) -> DeadLetter | None: ...
    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int: ...
    async def discard(self, task_ids: Sequence[str]) -> int: ...


async def drive(engine: Engine, budget: float,
                each: Callable[[list[MetricsFrame]], object]) -> None:
    """Run an engine to its end in slices of about `budget` wall seconds, handing each
    slice's frames to `each`; raises what made the run fail. The CLI's one loop, for either
    engine (the window drives by `advance` from its timer instead)."""
    await engine.open()
    engine.start()
    while engine.state is not RunState.FINISHED:
        await engine.run_slice(budget)
        each(engine.take_frames())
    await engine.wait()
    each(engine.take_frames())
