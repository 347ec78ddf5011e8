"""A live worker: claim, run the handler under the timeout, then ack, retry or dead-letter.

`process` settles one claimed task and is shared by the worker loop (single, fixed and
dynamic pools) and the semaphore pool's slots. Its rules are the simulator's: a failed
attempt is appended to the task's history, then the retry policy either gives a backoff -
the task is nacked with that delay (requeue mode) or the worker sleeps through it holding
the task and tries again (inline mode) - or dead-letters it with the error. A receipt found
void (`LeaseLost`) means the backend already took the task back: the attempt is counted as
abandoned (a success as an ack lost) and nothing else happens, so the task is never counted
twice: a completion is counted when the backend has taken its ack, not when the handler
returns.

Cancellation is used for two things only, both safe: ending a sleep that holds nothing
(a cold start, a breaker wait, a pause), and - when a stop must not wait - ending a handler
or an inline backoff, after which the task is handed back to the queue. A worker is never
cancelled inside a backend call.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from queuelab.backends.base import Delivery, LeaseLost
from queuelab.core.engine import WorkerInfo, WorkerState
from queuelab.core.outcome import (
    STOPPED,
    STOPPED_MESSAGE,
    TERMINATED,
    TIMEOUT,
    Action,
    after_backoff,
    settle,
    terminated_message,
    timeout_message,
)
from queuelab.core.task import Attempt, Outcome, Task
from queuelab.runtime.context import RunContext
from queuelab.runtime.handlers import error_of

_BUSY, _IDLE, _STARTING = WorkerState.BUSY, WorkerState.IDLE, WorkerState.STARTING
_BLOCKED, _BACKING_OFF = WorkerState.BLOCKED, WorkerState.BACKING_OFF
_SUCCEEDED, _FAILED, _TIMED_OUT = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT


class WorkerRecord:
    """One row of the workers table: a pool's worker or a semaphore slot."""

    __slots__ = (
        "cancellable", "drained_at", "draining", "failed", "id", "idle_wait", "killed",
        "leaving", "number", "processed", "runner", "since", "state", "task_id",
    )

    def __init__(self, number: int, name: str, since: float, state: WorkerState) -> None:
        self.number = number
        self.id = name
        self.since = since
        self.state = state
        self.task_id: str | None = None
        self.processed = 0
        self.failed = 0
        self.draining = False  # asked to leave after the task it holds
        self.drained_at = -1.0  # when it was last asked to drain (its termination grace)
        self.killed = 0.0  # > 0: killed after this termination grace; its attempt abandoned
        self.leaving = False  # removed: no longer counted, exits at its next look
        self.cancellable = False  # in a handler or an inline backoff: a stop-now may cancel
        self.idle_wait = False  # in a sleep that holds nothing: any stop may cancel
        self.runner: asyncio.Task[None] | None = None

    def info(self) -> WorkerInfo:
        state = WorkerState.DRAINING if self.draining else self.state
        return WorkerInfo(self.id, state, self.task_id, self.processed, self.failed, self.since)


class Membership(Protocol):
    """What a worker tells its pool."""

    def worker_gone(self, worker: WorkerRecord) -> None: ...


async def execute(ctx: RunContext, task: Task) -> tuple[Outcome, str, str]:
    """Run the handler once under the task timeout: (outcome, error kind, error message)."""
    timeout = ctx.timeout
    try:
        if timeout > 0:
            limit = ctx.clock.timeout(timeout)
            try:
                async with limit:
                    await ctx.handler(task)
            except TimeoutError:
                if limit.expired():
                    return _TIMED_OUT, TIMEOUT, timeout_message(timeout)
                raise
        else:
            await ctx.handler(task)
    except asyncio.CancelledError as exc:
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # a stop or a kill: not the handler's
            raise
        kind, message = error_of(exc)  # the handler raised it itself
        return _FAILED, kind, message
    except GeneratorExit:  # this coroutine is being closed: not a result
        raise
    except BaseException as exc:  # SystemExit, KeyboardInterrupt ... from the
        kind, message = error_of(exc)  # handler are its failure, never the run's end
        return _FAILED, kind, message
    return _SUCCEEDED, "", ""


async def process(ctx: RunContext, w: WorkerRecord, d: Delivery, epoch: int | None) -> None:
    """Run a claimed task until it is settled: acked, requeued, dead-lettered or handed back."""
    task = d.task
    clock = ctx.clock
    ledger = ctx.ledger
    desk = ctx.callers
    w.task_id = task.id
    if desk.ever and desk.picked(task.id):  # its caller has gone: dropped unserved
        await _drop(ctx, d)
        return
    while True:
        start = clock.now()
        w.state = _BUSY
        ctx.task_started(task, start)
        w.cancellable = True
        try:
            outcome, kind, message = await execute(ctx, task)
        except asyncio.CancelledError:
            w.cancellable = False
            ctx.task_abandoned(clock.now())
            if not (ctx.abandon or w.killed):
                raise
            _uncancel()
            kind, message = ((TERMINATED, terminated_message(w.killed)) if w.killed
                             else (STOPPED, STOPPED_MESSAGE))
            task.history.append(Attempt(task.attempts, start, clock.now(), Outcome.ABANDONED,
                                        kind, message, None, w.id))
            await ctx.hand_back(d, restore_attempt=False)
            return
        w.cancellable = False
        end = clock.now()
        ok = outcome is _SUCCEEDED
        ctx.task_finished(end)
        if desk.ever:
            desk.finished(task.id, end - start, ok)
        ctx.breaker_result(ok, end, epoch)
        if ok:
            w.processed += 1
            ctx.release(d)
            try:
                with ctx.calls.call(0, 1, 0):
                    await ctx.queue.ack(d)
            except LeaseLost:  # the backend gave the task to another worker meanwhile
                ledger.ack_lost()
                return
            ctx.completed(end, end - start)
            ctx.left_system(task, end)
            return
        ctx.failed(end, end - start)
        w.failed += 1
        then = settle(outcome, task.attempts, ctx.retry, ctx.models.jitter(), inline=ctx.inline)
        backoff = then.backoff
        task.history.append(Attempt(task.attempts, start, end, outcome, kind, message, backoff,
                                    w.id))
        ctx.events += 1
        if backoff is None:  # Action.DEAD_LETTER
            desk.left(task.id)
            ctx.release(d)
            try:
                with ctx.calls.call(0, 1, 1):
                    await ctx.queue.dead_letter(d, kind, message, end)
            except LeaseLost:
                ledger.lost()
                return
            ledger.dead_lettered()
            ctx.recorder.dead_lettered(end)
            ctx.left_system(task, end)
            return
        ctx.recorder.retried(end)
        if then.action is Action.REQUEUE:
            ctx.release(d)
            try:
                with ctx.calls.call(1, 1, 0):
                    await ctx.queue.nack(d, clock.wall(backoff))
            except LeaseLost:
                ledger.lost()
                return
            ledger.requeued(task.id, end + backoff, clock.now())
            return
        # inline: sleep through the backoff holding the task (its lease is kept alive)
        ledger.inline_began()
        w.state = _BACKING_OFF
        w.cancellable = True
        try:
            await clock.sleep_until(end + backoff)
        except asyncio.CancelledError:
            w.cancellable = False
            ledger.inline_ended()
            if not ctx.abandon:
                raise
            _uncancel()
            await ctx.hand_back(d, restore_attempt=False)
            return
        w.cancellable = False
        ledger.inline_ended()
        if ctx.stopping:  # a stop lets attempts finish; it starts no new ones
            await ctx.hand_back(d, restore_attempt=False)
            return
        allowed, epoch = ctx.admit()
        if after_backoff(allowed) is Action.HAND_BACK:  # the breaker opened meanwhile
            await ctx.hand_back(d, restore_attempt=False)
            return
        task.attempts += 1  # no claim counts this one: the worker kept the task


async def _drop(ctx: RunContext, d: Delivery) -> None:
    """Ack a task whose caller has gone without running it (`[clients] drop_expired`)."""
    ctx.release(d)
    try:
        with ctx.calls.call(0, 1, 0):
            await ctx.queue.ack(d)
    except LeaseLost:
        ctx.ledger.lost()
        return
    ctx.ledger.dropped_one()
    ctx.events += 1
    ctx.left_system(d.task, ctx.clock.now(), counted=False)


def _uncancel() -> None:
    """A stop's cancellation was handled here; the task goes on to hand its work back."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def work(ctx: RunContext, w: WorkerRecord, pool: Membership, startup_delay: float) -> None:
    """One pool worker: take work until removed, drained or the run stops."""
    clock = ctx.clock
    try:
        if w.state is _STARTING:
            w.idle_wait = True
            await clock.sleep(startup_delay)
            w.idle_wait = False
            w.state = _IDLE
        while not (w.leaving or w.draining or ctx.stopping):
            if clock.paused:
                w.idle_wait = True
                await clock.wait_running()
                w.idle_wait = False
                continue
            until = ctx.blocked_until()
            if until is not None:
                w.state = _BLOCKED
                w.idle_wait = True
                await clock.sleep_until(until, ctx.breaker_pulse)
                w.idle_wait = False
                continue
            w.state = _IDLE
            got = await ctx.claim(ctx.batch)
            for i, d in enumerate(got):
                if w.leaving or ctx.stopping or (w.draining and i > 0):
                    await _give_back(ctx, got[i:])
                    break
                allowed, epoch = ctx.admit()
                if not allowed:
                    await _give_back(ctx, got[i:])
                    break
                await process(ctx, w, d, epoch)
                w.task_id = None
                w.state = _IDLE
            # A backend that answers without suspending and a handler that never awaits
            # would let one worker run the whole backlog without yielding: yield per round.
            await asyncio.sleep(0)
    finally:
        w.idle_wait = w.cancellable = False
        pool.worker_gone(w)


async def _give_back(ctx: RunContext, deliveries: list[Delivery]) -> None:
    """Claimed but never started: back to the queue, their claims' attempts taken back."""
    for d in deliveries:
        await ctx.hand_back(d, restore_attempt=True)
