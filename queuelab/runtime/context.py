"""What every part of a live run shares: the clock, the queue, the books and the current knobs.

The engine owns one `RunContext`; the load driver, the workers and the pools read their knobs
from it at each use, so a change applied while running (lease, batch, retry, timeout,
breaker) takes effect at the next claim or failure without restarting anyone.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

from queuelab.backends.base import Delivery, LeaseLost, TaskQueue
from queuelab.core.metrics import MetricsRecorder
from queuelab.core.models import LoadModels
from queuelab.core.policies import CircuitBreaker, RetryPolicy
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_policies import breaker_for, retry_policy_for
from queuelab.core.task import Task
from queuelab.runtime.callers import CallerDesk
from queuelab.runtime.clock import Pulse, ScenarioClock
from queuelab.runtime.handlers import SyntheticHandler, UserHandler
from queuelab.runtime.ledger import InFlightCalls, Ledger

MIN_WALL_LEASE = 0.2
"""Wall seconds a lease lasts at least, whatever `queue.lease` x `run.time_scale` says: a
backend cannot honour a lease shorter than a few of its round trips (a claim, a renewal, an
ack under load), and below that every ack would find its lease gone and the task redelivered
forever. `QueueConfig.lease` says so at the field."""

CLAIM_WAIT = 0.2
"""Wall seconds a claim waits for work before the worker looks at its orders again.

Claims are never cancelled (a cancelled round trip may have claimed a task on the server),
so this bounds how long a stop or a removal waits for an idle worker; backends with a
wake-up (memory's condition, LISTEN/NOTIFY …) still hand over new work at once.
"""


def _ignore(exc: BaseException) -> None:
    """The default error sink, until an engine installs its own."""


def watch(ctx: RunContext, task: asyncio.Task[None]) -> None:
    """Report a task's failure (not its cancellation) to the run."""

    def done(t: asyncio.Task[None]) -> None:
        if not t.cancelled():
            exc = t.exception()
            if exc is not None:
                ctx.on_error(exc)

    task.add_done_callback(done)


class NullRecorder:
    """Takes a recorder's events and keeps nothing: the run's window has closed."""

    def arrived(self, t: float) -> None: ...
    def started(self, t: float, wait: float | None) -> None: ...
    def finished(self, t: float, service: float, ok: bool) -> None: ...
    def retried(self, t: float) -> None: ...
    def dead_lettered(self, t: float) -> None: ...
    def reprocessed(self, t: float, n: int) -> None: ...
    def busy_changed(self, t: float, busy: int) -> None: ...
    def workers_changed(self, t: float, workers: int) -> None: ...
    def entered(self, t: float, n: int = 1) -> None: ...
    def left(self, t: float, sojourn: float, *, counted: bool = True) -> None: ...
    def recent_rates(self) -> tuple[float | None, float | None]:
        return None, None


class RunContext:
    """Shared state of one live run; the engine changes it, everyone else reads it."""

    def __init__(self, scenario: Scenario, clock: ScenarioClock, queue: TaskQueue,
                 models: LoadModels, handler: SyntheticHandler | UserHandler,
                 recorder: MetricsRecorder) -> None:
        self.scenario = scenario
        self.clock = clock
        self.queue = queue
        self.models = models
        self.handler = handler
        self.recorder: MetricsRecorder | NullRecorder = recorder
        self.ledger = Ledger()
        # a live run's task ids start with a token of their own: a queue may hold tasks of
        # other runs (carried over, shared), and a backend keeps one task per id
        self.id_prefix = f"{secrets.token_hex(3)}-"
        self.calls = InFlightCalls()  # backend calls in progress, for the audit
        self.busy = 0  # workers running an attempt
        self.events = 0  # task events: arrivals, starts, finishes, retries, dead letters
        self.stopping = False  # no new claims
        self.abandon = False  # stop now: cancel handlers, hand held tasks back
        self.held: dict[int, Delivery] = {}  # claimed deliveries by id(): the lease keeper's list
        self.breaker: CircuitBreaker | None = None
        self.breaker_pulse = Pulse()  # fired whenever the breaker changes state
        # told when a worker, the driver or a helper fails outside a handler (a backend error)
        self.on_error: Callable[[BaseException], None] = _ignore
        self.retry = RetryPolicy(1, 0.0)
        self.callers = CallerDesk(scenario, clock, models)  # `[clients]`: deadlines, resends
        self.configure(scenario)
        self.configure_breaker(scenario)

    # -- knobs ---------------------------------------------------------------------------------

    def configure(self, s: Scenario) -> None:
        """Retry, timeout and claim knobs from the scenario (read at their next use)."""
        self.scenario = s
        self.retry = retry_policy_for(s)
        self.inline = s.retry.mode == "inline"
        self.timeout = s.timeouts.task
        self.lease = s.queue.lease
        self.wall_lease = max(self.clock.wall(self.lease), MIN_WALL_LEASE)
        self.batch = s.queue.batch

    def configure_breaker(self, s: Scenario) -> None:
        self.breaker = breaker_for(s, self.breaker)
        self.breaker_pulse.fire()

    # -- the breaker ---------------------------------------------------------------------------

    def blocked_until(self) -> float | None:
        """When a worker may next try to take work, or None if it may now (inf: on a change)."""
        b = self.breaker
        if b is None:
            return None
        now = self.clock.now()
        before = b.epoch
        state = b.state(now)
        if b.epoch != before:
            self.breaker_pulse.fire()
        if state == "open":
            return b.reopens_at
        if state == "half_open" and b.probes_in_flight >= b.half_open_probes:
            return float("inf")
        return None

    def admit(self) -> tuple[bool, int | None]:
        """May an attempt start now? With the breaker's epoch to hand back with its result."""
        b = self.breaker
        if b is None:
            return True, None
        before = b.epoch
        ok = b.allow(self.clock.now())
        if b.epoch != before:
            self.breaker_pulse.fire()
        return ok, (b.epoch if ok else None)

    def breaker_result(self, ok: bool, now: float, epoch: int | None) -> None:
        b = self.breaker
        if b is None or epoch is None:
            return
        before = b.epoch
        if ok:
            b.record_success(now, epoch)
        else:
            b.record_failure(now, epoch)
        if b.epoch != before:
            self.breaker_pulse.fire()

    def breaker_open(self, now: float) -> bool:
        b = self.breaker
        return b is not None and b.state(now) != "closed"

    # -- the queue -----------------------------------------------------------------------------

    async def claim(self, max_tasks: int) -> list[Delivery]:
        """Claim up to `max_tasks` under the lease knob, waiting at most CLAIM_WAIT for work."""
        with self.calls.call(max_tasks, max_tasks, 0):
            got = await self.queue.claim(self.wall_lease, max_tasks=max_tasks,
                                         timeout=CLAIM_WAIT)
        ledger, held = self.ledger, self.held
        for d in got:
            ledger.claimed(d.task.id)
            held[id(d)] = d
        return got

    def release(self, delivery: Delivery) -> None:
        """The delivery is settled (acked, nacked, dead-lettered or lost): stop renewing it."""
        self.held.pop(id(delivery), None)

    async def hand_back(self, delivery: Delivery, *, restore_attempt: bool) -> None:
        """Give a held task back to the queue at once, unfinished (a stop, a removal, the
        breaker). `restore_attempt`: it never ran, so its claim's attempt count is taken back.
        """
        if restore_attempt:
            delivery.task.attempts -= 1
        self.release(delivery)
        try:
            with self.calls.call(1, 1, 0):
                await self.queue.nack(delivery, 0.0)
        except LeaseLost:
            self.ledger.lost()
            return
        self.ledger.returned(handed_back=True)

    def owns(self, task: Task) -> bool:
        """Whether this run created the task (not carried over, not another process's)."""
        return task.id.startswith(self.id_prefix)

    def task_started(self, task: Task, now: float) -> None:
        """Record an attempt's start: the wait only on a task's first attempt, and only for a
        task of this run (another run's `created_at` is on that run's clock)."""
        wait = (now - task.created_at if task.attempts == 1 and not task.history
                and self.owns(task) else None)
        self.busy += 1
        self.events += 1
        if wait is not None:
            self.callers.started(task.id)
        rec = self.recorder
        rec.started(now, wait)
        rec.busy_changed(now, self.busy)

    def task_abandoned(self, now: float) -> None:
        """An attempt cut short by a stop: no longer busy, and not a finish either."""
        self.busy -= 1
        self.recorder.busy_changed(now, self.busy)

    def task_finished(self, now: float) -> None:
        """An attempt's handler returned or raised: the worker is free. Its outcome is
        recorded once it is settled (`completed`, `failed`): a success counts only when the
        backend has taken its ack."""
        self.busy -= 1
        self.events += 1
        self.recorder.busy_changed(now, self.busy)

    def left_system(self, task: Task, t: float, *, counted: bool = True) -> None:
        """A task of this run left the system (done, dead-lettered, or dropped unserved when
        not `counted`): its time in system for Little's law. Another run's task is on that
        run's clock, and never entered this one's count."""
        if self.owns(task):
            self.recorder.left(t, t - task.created_at, counted=counted)

    def completed(self, end: float, service: float) -> None:
        """A success whose ack the backend took: done, once."""
        self.ledger.acked()
        self.recorder.finished(end, service, True)

    def failed(self, end: float, service: float) -> None:
        self.recorder.finished(end, service, False)
