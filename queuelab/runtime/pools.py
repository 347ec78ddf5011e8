"""Worker pools: single, fixed and dynamic (workers of their own), and semaphore (one consumer).

Pool sizes change the simulator's way (`sim.engine._resize`): to grow, draining workers are
kept first, then new ones are started, which take work only after `pool.startup_delay`; to
shrink, workers still starting go first, then idle ones, and last busy ones, which are only
marked draining and leave once their task is settled - a busy worker is never cancelled. A
removed idle worker stops counting at once; if its last claim brings a task, it hands the
task straight back.

The dynamic pool asks the same `core.policies` autoscaler objects the simulator uses, every
`pool.check_interval` scenario seconds, with the backlog the backend reports.

Stopping: `stop(drain=True)` stops claiming and lets every attempt in progress end (tasks
claimed ahead of a start are handed back); after `limit`, or with `drain=False` at once,
handlers and inline backoffs are cancelled and their tasks handed back (nack, no delay),
the cut attempts recorded as abandoned. Nothing held is ever dropped.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Protocol

from queuelab.backends.base import Delivery
from queuelab.core.changes import Route
from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.core.policies import Autoscaler, ConcurrencyLimit, PoolObservation
from queuelab.core.policies.resize import plan_resize
from queuelab.core.scenario import Scenario, initial_workers
from queuelab.runtime.clock import Pulse
from queuelab.runtime.context import CLAIM_WAIT, RunContext, watch
from queuelab.runtime.worker import WorkerRecord, process, work

_IDLE, _STARTING, _BLOCKED = WorkerState.IDLE, WorkerState.STARTING, WorkerState.BLOCKED
_BUSY, _BACKING_OFF = WorkerState.BUSY, WorkerState.BACKING_OFF

SETTLE_LIMIT = 5.0
"""Wall seconds a stop waits for backend calls in progress once handlers are cancelled."""


class Pool(Protocol):
    """What the engine asks of a pool."""

    def start(self) -> None: ...
    def size(self) -> int: ...  # counting toward capacity: not removed, not draining
    def alive(self) -> int: ...  # every counted worker, draining ones included
    def workers(self) -> list[WorkerInfo]: ...
    def resize(self, target: int) -> None: ...
    def apply(self, route: Route, scenario: Scenario) -> None:
        """A changed knob that reaches the pool (one of POOL_ROUTES)."""
        ...
    def threads_needed(self) -> int: ...
    def records(self) -> list[WorkerRecord]: ...
    def abandon_now(self) -> None: ...
    def kill(self) -> None: ...
    async def stop(self, drain: bool, limit: float) -> None: ...


async def _settle(tasks: set[asyncio.Task[None]], timeout: float | None) -> set[asyncio.Task[None]]:
    """Wait for tasks to end (at most `timeout` wall seconds); those still running."""
    if not tasks:
        return set()
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    return pending


class WorkerPool:
    """Single, fixed or dynamic: each worker its own claim loop."""

    def __init__(self, ctx: RunContext, scenario: Scenario) -> None:
        self.ctx = ctx
        p = scenario.pool
        self.strategy = p.strategy
        self._initial = initial_workers(p)
        self._startup_delay = p.startup_delay
        self._grace = p.termination_grace
        self._workers: dict[int, WorkerRecord] = {}  # counted ones, in creation order
        self._runners: set[asyncio.Task[None]] = set()  # every worker task, removed ones too
        self._killers: set[asyncio.Task[None]] = set()  # termination graces running out
        self._seq = 0
        self._alive = 0

    # -- size ------------------------------------------------------------------------------

    def start(self) -> None:
        self.ctx.recorder.workers_changed(self.ctx.clock.now(), 0)
        for _ in range(self._initial):
            self._add(cold=False)

    def size(self) -> int:
        return sum(1 for w in self._workers.values() if not w.draining)

    def alive(self) -> int:
        return self._alive

    def threads_needed(self) -> int:
        return max(self._alive, self._initial)

    def workers(self) -> list[WorkerInfo]:
        return [w.info() for w in self._workers.values()]

    def _add(self, cold: bool) -> None:
        ctx = self.ctx
        self._seq += 1
        n = self._seq
        delay = self._startup_delay if cold else 0.0
        now = ctx.clock.now()
        w = WorkerRecord(n, f"w{n}", now, _STARTING if delay > 0 else _IDLE)
        self._workers[n] = w
        self._alive += 1
        ctx.recorder.workers_changed(now, self._alive)
        runner = asyncio.get_running_loop().create_task(work(ctx, w, self, delay))
        w.runner = runner
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)
        watch(ctx, runner)

    def _uncount(self, w: WorkerRecord) -> None:
        if self._workers.pop(w.number, None) is not None:
            self._alive -= 1
            self.ctx.recorder.workers_changed(self.ctx.clock.now(), self._alive)

    def worker_gone(self, w: WorkerRecord) -> None:
        self._uncount(w)

    def _remove_idle(self, w: WorkerRecord) -> None:
        w.leaving = True
        self._uncount(w)
        if w.idle_wait and w.runner is not None:
            w.runner.cancel()

    def resize(self, target: int) -> None:
        """Reach `target` counted workers by the shared plan: never cancel a busy one."""
        plan = plan_resize([w for w in self._workers.values() if not w.leaving], target,
                           draining=lambda w: w.draining,
                           starting=lambda w: w.state is _STARTING,
                           idle=lambda w: w.state in (_IDLE, _BLOCKED))
        for w in plan.undrain:
            w.draining = False
        for _ in range(plan.add):
            self._add(cold=True)
        for w in plan.remove:
            self._remove_idle(w)
        now = self.ctx.clock.now()
        for w in plan.drain:
            w.draining = True
            w.drained_at = now
            if self._grace > 0:
                killer = asyncio.get_running_loop().create_task(
                    self._kill_after(w, now, self._grace))
                self._killers.add(killer)
                killer.add_done_callback(self._killers.discard)

    async def _kill_after(self, w: WorkerRecord, drained_at: float, grace: float) -> None:
        """The termination grace: a worker still draining from then and still in its
        handler is cancelled; `process` hands its task back, the attempt spent (the
        simulator's `_kill`). One in an inline backoff is left to finish it."""
        clock = self.ctx.clock
        await clock.sleep_until(drained_at + grace)
        if (w.draining and w.drained_at == drained_at and w.state is _BUSY and w.cancellable
                and w.runner is not None and not self.ctx.stopping):
            w.killed = grace
            w.runner.cancel()

    def apply(self, route: Route, scenario: Scenario) -> None:
        p = scenario.pool
        if route is Route.TERMINATION_GRACE:
            self._grace = p.termination_grace  # read by the next drain
        elif route is Route.STARTUP_DELAY:
            self._startup_delay = p.startup_delay
        elif route is Route.WORKERS:
            self.resize(initial_workers(p))

    # -- stopping --------------------------------------------------------------------------

    def records(self) -> list[WorkerRecord]:
        return list(self._workers.values())

    def abandon_now(self) -> None:
        """Cancel handlers, inline backoffs and idle sleeps; their tasks are handed back."""
        self.ctx.abandon = True
        for w in list(self._workers.values()):
            if (w.cancellable or w.idle_wait) and w.runner is not None:
                w.runner.cancel()

    def kill(self) -> None:
        """After a failure: cancel every worker wherever it is."""
        for task in list(self._runners) + list(self._killers):
            task.cancel()

    async def stop(self, drain: bool, limit: float) -> None:
        ctx = self.ctx
        ctx.stopping = True
        for killer in list(self._killers):  # a stop has its own limit
            killer.cancel()
        ctx.breaker_pulse.fire()
        for w in list(self._workers.values()):
            if w.idle_wait and w.runner is not None:
                w.runner.cancel()
        pending = set(self._runners)
        if drain:
            pending = await _settle(pending, limit)
        if pending:
            self.abandon_now()
            pending = await _settle(pending, SETTLE_LIMIT)
            for task in pending:  # stuck in a backend call: its lease will bring the task back
                task.cancel()


class SemaphorePool:
    """One consumer claims within a `ConcurrencyLimit` (+ prefetch); slots run the tasks."""

    def __init__(self, ctx: RunContext, scenario: Scenario) -> None:
        self.ctx = ctx
        p = scenario.pool
        self.strategy = "semaphore"
        self.limit = ConcurrencyLimit(p.concurrency, p.prefetch)
        self._slots: dict[int, WorkerRecord] = {}  # counted slots, in creation order
        self._free: list[WorkerRecord] = []
        self._held: deque[Delivery] = deque()  # claimed ahead of a free slot (prefetch)
        self._runners: set[asyncio.Task[None]] = set()
        self._wake = Pulse()  # a slot freed, a knob changed, a stop
        self._seq = 0
        self._consumer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.ctx.recorder.workers_changed(self.ctx.clock.now(), 0)
        for _ in range(self.limit.capacity):
            self._add_slot()
        self._consumer = asyncio.get_running_loop().create_task(self._consume())
        watch(self.ctx, self._consumer)

    def size(self) -> int:
        return sum(1 for s in self._slots.values() if not s.draining)

    def alive(self) -> int:
        return len(self._slots)

    def threads_needed(self) -> int:
        return self.limit.capacity

    def workers(self) -> list[WorkerInfo]:
        return [s.info() for s in self._slots.values()]

    def _add_slot(self) -> None:
        self._seq += 1
        now = self.ctx.clock.now()
        slot = WorkerRecord(self._seq, f"slot-{self._seq}", now, _IDLE)
        self._slots[slot.number] = slot
        self._free.append(slot)
        self.ctx.recorder.workers_changed(now, len(self._slots))

    def _drop_slot(self, slot: WorkerRecord) -> None:
        if self._slots.pop(slot.number, None) is not None:
            self.ctx.recorder.workers_changed(self.ctx.clock.now(), len(self._slots))

    def resize(self, target: int) -> None:
        self.limit.set_capacity(target)
        free = set(map(id, self._free))
        plan = plan_resize(list(self._slots.values()), target,
                           draining=lambda s: s.draining, starting=lambda s: False,
                           idle=lambda s: id(s) in free)
        for s in plan.undrain:
            s.draining = False
        for _ in range(plan.add):
            self._add_slot()
        for s in plan.remove:
            self._free.remove(s)
            self._drop_slot(s)
        for s in plan.drain:
            s.draining = True
        self._wake.fire()
        self._dispatch()

    def apply(self, route: Route, scenario: Scenario) -> None:
        p = scenario.pool
        if route is Route.CONCURRENCY:
            self.resize(p.concurrency)
        elif route is Route.PREFETCH:
            self.limit.set_prefetch(p.prefetch)
            self._wake.fire()

    def wake(self) -> None:
        self._wake.fire()

    # -- the consumer ----------------------------------------------------------------------

    async def _consume(self) -> None:
        ctx = self.ctx
        clock = ctx.clock
        limit = self.limit
        while not ctx.stopping:
            if clock.paused:
                await clock.wait_running()
                continue
            until = ctx.blocked_until()
            self._label_free(_BLOCKED if until is not None else _IDLE)
            if until is None:
                self._dispatch()
            budget = limit.claim_budget(limit.in_use + len(self._held))
            if until is not None or budget == 0:
                await clock.sleep_until(math.inf if until is None else until, self._wake)
                continue
            got = await ctx.claim(min(budget, ctx.batch))
            if ctx.stopping:
                self._held.extend(got)
                break
            self._held.extend(got)
            self._dispatch()
        await self._give_back_held()

    def _label_free(self, state: WorkerState) -> None:
        for s in self._free:
            s.state = state

    def _dispatch(self) -> None:
        """Start held tasks on free slots while the limit and the breaker allow."""
        ctx = self.ctx
        if ctx.stopping or ctx.clock.paused:
            return
        held, free, limit = self._held, self._free, self.limit
        loop = asyncio.get_running_loop()
        while held and free and limit.try_acquire():
            allowed, epoch = ctx.admit()
            if not allowed:
                limit.release()
                self._label_free(_BLOCKED)
                return
            slot = free.pop()
            runner = loop.create_task(self._run(slot, held.popleft(), epoch))
            slot.runner = runner
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
            watch(ctx, runner)

    async def _run(self, slot: WorkerRecord, d: Delivery, epoch: int | None) -> None:
        try:
            await process(self.ctx, slot, d, epoch)
        finally:
            self.limit.release()
            slot.task_id = None
            slot.cancellable = False
            if slot.draining or slot.number not in self._slots:
                self._drop_slot(slot)
            else:
                slot.state = _IDLE
                self._free.append(slot)
            self._wake.fire()
            self._dispatch()

    async def _give_back_held(self) -> None:
        held = self._held
        while held:
            await self.ctx.hand_back(held.popleft(), restore_attempt=True)

    def records(self) -> list[WorkerRecord]:
        return list(self._slots.values())

    def abandon_now(self) -> None:
        self.ctx.abandon = True
        for s in list(self._slots.values()):
            if s.cancellable and s.runner is not None:
                s.runner.cancel()

    def kill(self) -> None:
        for task in list(self._runners):
            task.cancel()
        if self._consumer is not None:
            self._consumer.cancel()

    async def stop(self, drain: bool, limit: float) -> None:
        ctx = self.ctx
        ctx.stopping = True
        self._wake.fire()
        if self._consumer is not None:
            await _settle({self._consumer}, CLAIM_WAIT + SETTLE_LIMIT)
        pending = set(self._runners)
        if drain:
            pending = await _settle(pending, limit)
        if pending:
            self.abandon_now()
            pending = await _settle(pending, SETTLE_LIMIT)
            for task in pending:
                task.cancel()
        await self._give_back_held()
        self._free.clear()
        for slot in list(self._slots.values()):  # the run is over: no slot is left
            self._drop_slot(slot)


class Autoscaling:
    """When the autoscaler asks (`next_check`: every `check_interval` scenario seconds, or a
    keda autoscaler's HPA sync and KEDA poll slots): observe the queue, ask it, resize."""

    def __init__(self, ctx: RunContext, pool: WorkerPool, autoscaler: Autoscaler,
                 check_interval: float) -> None:
        self.ctx = ctx
        self.pool = pool
        self.autoscaler = autoscaler
        self.check_interval = check_interval
        self._rearm = Pulse()
        self._stopped = False

    def stop(self) -> None:
        """No further check (one in progress finishes: it is never cancelled mid-call)."""
        self._stopped = True
        self._rearm.fire()

    def reconfigure(self, *, autoscaler: Autoscaler | None = None,
                    check_interval: float | None = None) -> None:
        if autoscaler is not None:
            self.autoscaler = autoscaler
        if check_interval is not None:
            self.check_interval = check_interval
            self._rearm.fire()  # the next check is one new interval from now

    async def run(self) -> None:
        ctx = self.ctx
        clock = ctx.clock
        next_at = self.autoscaler.next_check(clock.now(), self.check_interval)
        while not (ctx.stopping or self._stopped):
            if not await clock.sleep_until(next_at, self._rearm):
                next_at = self.autoscaler.next_check(clock.now(), self.check_interval)
                continue
            counts = await ctx.queue.counts()
            if ctx.stopping or self._stopped:
                return
            now = clock.now()
            arrival_rate, service_rate = ctx.recorder.recent_rates()
            obs = PoolObservation(backlog=counts.ready, workers=self.pool.size(),
                                  busy=ctx.busy, retrying=counts.delayed,
                                  arrival_rate=arrival_rate, service_rate=service_rate)
            self.pool.resize(self.autoscaler.decide(now, obs))
            next_at = self.autoscaler.next_check(next_at, self.check_interval)
