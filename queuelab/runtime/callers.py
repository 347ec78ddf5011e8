"""The callers of a live run (`[clients]`): their deadlines, their retries, who has gone.

The rule is `core.clients.Callers`, the simulator's; this is its live bookkeeping. Every
task this run sends is remembered with its deadline (`created_at + timeout`, the timeout in
force when it was sent) until its first attempt starts. At the deadline a task not yet
started is abandoned: its caller retries (the load driver sends a new task of the same
request after the backoff) or gives up, and the task's id joins the gone set. A worker that
picks up a gone caller's task asks `picked`: drop it unserved (acked without running,
`Ledger.dropped`) or serve it as wasted work. Deadlines and resends wait on the scenario
clock in one helper task, so a paused run times nobody out.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable

from queuelab.core.clients import Callers
from queuelab.core.models import LoadModels
from queuelab.core.policies import RetryPolicy
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_policies import callers_for, clients_knobs
from queuelab.core.task import Task
from queuelab.runtime.clock import Pulse, ScenarioClock

Resend = Callable[[int, bool, int], Awaitable[bool]]
"""Sends a caller's retry: (priority, poison, which retry of its request it is); False when
the run sends nothing more."""

Request = tuple[int, bool, int]
"""A retry to send: (priority, poison, which retry of its request it is)."""


class CallerDesk:
    """Deadlines and resends of one live run's callers; counts for the frames and summary."""

    def __init__(self, s: Scenario, clock: ScenarioClock, models: LoadModels) -> None:
        self.callers: Callers = callers_for(s)
        self.ever = self.callers.active  # callers have timed out at some point of this run
        self._clock = clock
        self._models = models
        # task id -> (which retry it is, priority, poison), until its first attempt starts
        self._waiting: dict[str, tuple[int, int, bool]] = {}
        self._gone: set[str] = set()  # ids of tasks in the run whose caller gave up
        # due deadlines (a task id) and resends (a request), by scenario time
        self._heap: list[tuple[float, int, str | Request]] = []
        self._seq = itertools.count()
        self._pulse = Pulse()
        self._stopped = False
        self.tally = self.callers.tally  # what the callers did: the frames' and summary's

    def configure(self, s: Scenario, fresh: int) -> None:
        """`clients.*` changed while running (`Route.CLIENTS`)."""
        self.callers.reconfigure(fresh, **clients_knobs(s))
        self.ever = self.ever or self.callers.active

    # -- what the driver and the workers tell it ---------------------------------------------

    def sent(self, task: Task, tries: int = 0) -> None:
        """A task of this run is in the queue: its caller waits for it to start."""
        timeout = self.callers.timeout
        if not timeout:
            return
        self._waiting[task.id] = (tries, task.priority, task.poison)
        self._push(task.created_at + timeout, task.id)

    def started(self, task_id: str) -> None:
        """A task's first attempt starts: its caller got an answer in time (or had gone)."""
        if self._waiting:
            self._waiting.pop(task_id, None)

    def picked(self, task_id: str) -> bool:
        """A worker picked the task up: True when it must drop it unserved (its caller has
        gone and expired work is dropped), which forgets it."""
        if not self._gone or task_id not in self._gone:
            return False
        if self.callers.drops(True):
            self._gone.discard(task_id)
            return True
        return False

    def finished(self, task_id: str, service: float, ok: bool) -> None:
        """An attempt ended: wasted work if the caller had gone."""
        if self._gone and task_id in self._gone:
            self.tally.wasted(service, ok)
            if ok:
                self._gone.discard(task_id)

    def left(self, task_id: str) -> None:
        """The task was dead-lettered: nobody will pick it up again."""
        self._gone.discard(task_id)

    def figures(self, abandoned: int) -> dict[str, float | int]:
        """The whole-run counts for the summary (nothing when callers never timed out)."""
        return self.tally.figures(abandoned) if self.ever else {}

    # -- the helper task ---------------------------------------------------------------------

    def stop(self) -> None:
        self._stopped = True
        self._pulse.fire()

    def _push(self, t: float, subject: str | Request) -> None:
        first = not self._heap or t < self._heap[0][0]
        heapq.heappush(self._heap, (t, next(self._seq), subject))
        if first:
            self._pulse.fire()

    async def run(self, resend: Resend, fresh: Callable[[], int], retry: Callable[[],
                  RetryPolicy]) -> None:
        """Expire deadlines and send retries on the scenario clock until stopped.

        `fresh` counts the run's fresh arrivals so far (the retry budget's deposits),
        `retry` is the `[retry]` policy in force (the backoff)."""
        heap, clock = self._heap, self._clock
        while not self._stopped:
            at = heap[0][0] if heap else float("inf")
            if not await clock.sleep_until(at, self._pulse) or self._stopped:
                continue
            now = clock.now()
            while heap and heap[0][0] <= now and not self._stopped:
                _, _, subject = heapq.heappop(heap)
                if isinstance(subject, str):  # a caller's deadline
                    self._expire(subject, now, fresh(), retry())
                else:
                    priority, poison, tries = subject
                    self.tally.retries += 1  # counted first: the task is created in the call
                    if not await resend(priority, poison, tries):
                        self.tally.retries -= 1

    def _expire(self, task_id: str, now: float, fresh: int, retry: RetryPolicy) -> None:
        request = self._waiting.pop(task_id, None)
        if request is None:
            return  # it started in time
        tries, priority, poison = request
        self._gone.add(task_id)
        u = self._models.client_jitter()  # drawn for every abandoned task, retried or not
        verdict = self.callers.abandon(tries, fresh, u, retry)
        if verdict.backoff is None:
            return  # it gives up
        self._push(now + verdict.backoff, (priority, poison, tries + 1))
