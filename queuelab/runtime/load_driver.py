"""The load driver: the scenario's arrival process turned into real enqueues, on time.

It sleeps until the next arrival time the process gives, then enqueues that task; when the
event loop fell behind (a busy machine, a tiny time scale), every arrival already due is
enqueued in one `enqueue_many` round trip. A task's `created_at` is the scenario time it is
really enqueued: the model's arrival time plus the driver's own lateness (timer jitter,
usually well under a wall millisecond, but 0.05 scenario seconds at a time scale of 0.02).
So a wait measures the queue, from the moment the task is in it, not the load generator's
timer; the arrival times themselves carry that jitter, as any real producer's do.

Tasks are made exactly as the simulator makes them: id `task_id(n)` (after the run's own
token, `RunContext.id_prefix`: the queue may hold other runs' tasks), level from the
priority mix, poison from the failure model, synthetic JSON payload; and the arrival times
come from the same seeded stream, so both engines see the same arrivals.
"""

from __future__ import annotations

from queuelab.core.arrivals import ArrivalProcess
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import Task
from queuelab.runtime.clock import Pulse
from queuelab.runtime.context import RunContext

MAX_BATCH = 1000  # arrivals per enqueue_many when far behind


class LoadDriver:
    """Enqueues arrivals until `stop()`; `rebuild()` switches to a new arrival process."""

    def __init__(self, ctx: RunContext, end: float) -> None:
        self.ctx = ctx
        self.end = end  # no arrival after this scenario time
        self._process: ArrivalProcess = ctx.models.arrivals
        self._restart = False
        self._stopped = False
        self._pulse = Pulse()
        self._number = 0

    def rebuild(self, process: ArrivalProcess) -> None:
        """A knob changed: the next arrival is drawn from the new process, from now on."""
        self._process = process
        self._restart = True
        self._pulse.fire()

    def set_end(self, end: float) -> None:
        self.end = end
        self._pulse.fire()

    def stop(self) -> None:
        self._stopped = True
        self._pulse.fire()

    def _make(self, t: float) -> Task:
        """A fresh arrival made at scenario time `t`: its level and poison drawn."""
        models = self.ctx.models
        return self._task(t, models.priority(), models.poison())

    def _task(self, t: float, priority: int, poison: bool) -> Task:
        """Task number n, made at scenario time `t`."""
        self._number += 1
        n = self._number
        payload = synthetic_payload(n, priority, self.ctx.scenario.payload.size)
        return Task(self.ctx.id_prefix + task_id(n), payload, priority, t, poison=poison)

    async def resend(self, priority: int, poison: bool, tries: int) -> bool:
        """A caller's retry (`[clients]`): a new task of the same request, no new draws,
        shed like any arrival (its `tries`-th retry, which its caller's desk remembers).
        False once the run sends nothing more."""
        if self._stopped:
            return False
        await self._enqueue(self._shed([self._task(self.ctx.clock.now(), priority, poison)]),
                            tries)
        return True

    async def run(self) -> None:
        ctx = self.ctx
        clock = ctx.clock
        nxt = self._process.next_after(0.0)
        while not self._stopped:
            if self._restart:
                self._restart = False
                nxt = self._process.next_after(clock.now())
            if nxt is None or nxt > self.end:
                await clock.sleep_until(float("inf"), self._pulse)  # a rebuild or a new end
                continue
            if not await clock.sleep_until(nxt, self._pulse) or self._stopped:
                continue
            now = clock.now()
            batch: list[Task] = []
            while nxt is not None and nxt <= now and nxt <= self.end and len(batch) < MAX_BATCH:
                batch.append(self._make(now))
                nxt = self._process.next_after(nxt)  # the model's times stay exact
            await self._enqueue(self._shed(batch))

    def _shed(self, batch: list[Task]) -> list[Task]:
        """Load shedding (`[queue] max_length`): the arrivals that find the queue full are
        turned away, created and counted as rejected; the rest go on to the queue. (Their
        priority and poison were drawn all the same, as the simulator draws them.)"""
        ctx = self.ctx
        cap = ctx.scenario.queue.max_length
        if not cap or not batch:
            return batch
        room = max(0, cap - ctx.ledger.waiting)
        if len(batch) <= room:
            return batch
        turned_away = len(batch) - room
        ctx.ledger.rejected_n(turned_away)
        ctx.events += turned_away
        t = batch[0].created_at
        for _ in range(turned_away):
            ctx.recorder.arrived(t)
        return batch[:room]

    async def _enqueue(self, batch: list[Task], tries: int = 0) -> None:
        if not batch:
            return
        ctx = self.ctx
        # counted first: a worker may claim a task before the enqueue call returns
        ctx.ledger.enqueued(len(batch))
        desk = ctx.callers
        if desk.callers.timeout:  # their callers wait for them to start
            for task in batch:
                desk.sent(task, tries)
        ctx.events += len(batch)
        arrived = ctx.recorder.arrived
        t = batch[0].created_at
        for _ in batch:
            arrived(t)
        ctx.recorder.entered(t, len(batch))  # in the system from now, for Little's law
        with ctx.calls.call(len(batch), 0, 0):
            if len(batch) == 1:
                await ctx.queue.enqueue(batch[0])
            else:
                await ctx.queue.enqueue_many(batch)
