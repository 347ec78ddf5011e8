"""What a live worker runs for each task: the synthetic handler, or a user's own function.

A handler is called with the `core.task.Task` (its `payload`, `id`, `attempts` …). Returning
is success; raising is a failed attempt, and the exception's class name and message become
the attempt's error kind and text, which the dead-letter pane shows. So the synthetic
handler fails by raising the exceptions named like the simulator's error kinds, with its
messages (`core.outcome`): a dead letter reads the same whichever engine made it.

A user handler is named `package.module:function`. An `async def` is awaited on the event
loop; a plain function runs in a thread (it may block), from a pool sized to the workers so
that twenty workers really run twenty calls at once. A thread cannot be cancelled: when a
timeout or a stop gives up on a sync call, the call still runs to its end in its thread and
its result is ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from queuelab.core.models import LoadModels
from queuelab.core.outcome import POISON_MESSAGE, PoisonPill, SyntheticFailure, failure_message
from queuelab.core.task import Outcome, Task
from queuelab.runtime.clock import ScenarioClock

Handler = Callable[[Task], Awaitable[None]]


class HandlerError(ValueError):
    """A handler name that cannot be used, with the reason."""


class SyntheticHandler:
    """Waits the drawn service time, then fails as the failure model says.

    The service time is drawn when the attempt starts and the fate with it, in the
    simulator's order (service, then failure), so the k-th attempt started gets the k-th draw
    of each stream in both engines.
    """

    __slots__ = ("_clock", "_models")

    def __init__(self, clock: ScenarioClock, models: LoadModels) -> None:
        self._clock = clock
        self._models = models

    async def __call__(self, task: Task) -> None:
        models = self._models
        clock = self._clock
        start = clock.now()
        # the task timeout is the worker's to enforce, on the clock: none here
        outcome, duration = models.attempt(task.poison, 0.0)
        await clock.sleep_until(start + duration)
        if outcome is Outcome.FAILED:
            if task.poison:
                raise PoisonPill(POISON_MESSAGE)
            raise SyntheticFailure(failure_message(models.p_fail))


def resolve(name: str) -> Callable[..., Any]:
    """The function `package.module:function` names, or HandlerError saying why not."""
    module_name, sep, attr = name.strip().partition(":")
    if not sep or not module_name or not attr:
        raise HandlerError(f"service.handler: {name!r} is not of the form "
                           "package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError(f"service.handler: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # the module itself failed while importing
        raise HandlerError(f"service.handler: importing {module_name!r} failed: "
                           f"{type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HandlerError(f"service.handler: module {module_name!r} has no "
                               f"{attr!r}") from None
    if not callable(obj):
        raise HandlerError(f"service.handler: {name!r} is not callable")
    return obj  # type: ignore[no-any-return]


class UserHandler:
    """A user's function as a handler: awaited if async, else run in a thread of its own."""

    __slots__ = ("_executor", "_function", "_is_async", "_threads", "name")

    def __init__(self, name: str, threads: int = 8) -> None:
        self.name = name
        self._function = resolve(name)
        fn = self._function
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__)
        self._threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def is_async(self) -> bool:
        return self._is_async

    def resize(self, threads: int) -> None:
        """Room for at least this many concurrent sync calls (the pool only grows)."""
        threads = max(1, threads)
        if threads > self._threads and self._executor is not None:
            # a new, larger pool for new calls; calls already queued still run in the old one
            self._executor.shutdown(wait=False)
            self._executor = None
        self._threads = max(self._threads, threads)

    async def __call__(self, task: Task) -> None:
        if self._is_async:
            result = self._function(task)
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._threads, "queuelab-handler")
            loop = asyncio.get_running_loop()
            call = functools.partial(contextvars.copy_context().run, self._function, task)
            result = await loop.run_in_executor(self._executor, call)
        if inspect.isawaitable(result):
            await result

    def close(self) -> None:
        """Let running calls finish in their threads; start no new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def make_handler(name: str, clock: ScenarioClock, models: LoadModels,
                 threads: int = 8) -> SyntheticHandler | UserHandler:
    """The synthetic handler for an empty name, else the user's; HandlerError if unusable."""
    if not name.strip():
        return SyntheticHandler(clock, models)
    return UserHandler(name, threads)
