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
its result is ignored; the thread is replaced for the calls that follow, and it is a daemon
thread, so a call that never returns cannot keep the process alive once the run is over.

A handler cannot take the run down: whatever it raises - `SystemExit`, `KeyboardInterrupt`,
a `CancelledError` of its own, an exception whose `__str__` fails, a message of 50 MB - is
one failed attempt (`error_of`), its message cut to `core.limits.MAX_ERROR_CHARS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import inspect
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from queuelab.core.limits import MAX_ERROR_CHARS
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


def error_of(exc: BaseException) -> tuple[str, str]:
    """(error kind, message) of what a handler raised, the message at most MAX_ERROR_CHARS:
    a message that cannot even be turned into text is named as such."""
    kind = type(exc).__name__
    try:
        text = str(exc)
    except BaseException:  # a hostile __str__ may raise anything
        try:
            text = repr(exc)
        except BaseException:
            text = f"<{kind} whose message cannot be shown>"
    if not isinstance(text, str):  # a __str__ returning a non-str is caught by str(), but
        text = f"<{kind} whose message cannot be shown>"  # keep the type honest anyway
    if not text:
        text = f"{kind}()"
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}… ({len(text):,} characters, cut)"
    return kind, text


class DaemonThreads:
    """Threads for sync handlers, grown on demand up to `size`.

    Daemon threads: a call that blocks forever (a timeout gave up on it) must not keep the
    process from exiting when the run is over, as `ThreadPoolExecutor`'s joined threads do.
    A call given up on still holds its thread, so each one given up on makes room for one
    more thread (up to `MAX_STUCK` of them), and the calls that follow still run.
    """

    MAX_STUCK = 256

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._waiting = 0  # calls queued that no thread has been promised to yet
        self._stuck = 0
        self._closed = False

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """`fn()` in a thread; its result or exception (any BaseException) on the future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        future.add_done_callback(self._given_up)
        with self._lock:
            if self._closed:
                raise RuntimeError("the handler's threads are closed")
            self._jobs.put((loop, future, fn))
            self._waiting += 1
            self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Hand waiting calls to idle threads, else to new ones within bounds (lock held)."""
        while self._waiting:
            if self._idle > 0:
                self._idle -= 1
            elif self._threads < self.size + self._stuck and not self._closed:
                self._threads += 1
                threading.Thread(target=self._work, name="queuelab-handler",
                                 daemon=True).start()
            else:
                return
            self._waiting -= 1

    def _given_up(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():  # its thread may be stuck for good: make room for another
            with self._lock:
                self._stuck = min(self._stuck + 1, self.MAX_STUCK)
                self._dispatch()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            loop, future, fn = job
            try:
                result, error = fn(), None
            except BaseException as exc:  # handed to the awaiting worker
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)
            del job, future, fn, error
            with self._lock:
                self._idle += 1
                self._dispatch()

    def close(self) -> None:
        """Start no new calls; idle threads end, busy ones end after their call."""
        with self._lock:
            self._closed = True
            for _ in range(self._threads):
                self._jobs.put(None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # given up on (a timeout, a stop)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


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
        self._executor: DaemonThreads | None = None

    @property
    def is_async(self) -> bool:
        return self._is_async

    def resize(self, threads: int) -> None:
        """Room for at least this many concurrent sync calls (the pool only grows)."""
        self._threads = max(self._threads, threads)
        if self._executor is not None:
            self._executor.size = self._threads

    async def __call__(self, task: Task) -> None:
        if self._is_async:
            result = self._function(task)
        else:
            if self._executor is None:
                self._executor = DaemonThreads(self._threads)
            call = functools.partial(contextvars.copy_context().run, self._function, task)
            result = await self._executor.run(call)
        if inspect.isawaitable(result):
            await result

    def close(self) -> None:
        """Let running calls finish in their threads; start no new ones."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None


def make_handler(name: str, clock: ScenarioClock, models: LoadModels,
                 threads: int = 8) -> SyntheticHandler | UserHandler:
    """The synthetic handler for an empty name, else the user's; HandlerError if unusable."""
    if not name.strip():
        return SyntheticHandler(clock, models)
    return UserHandler(name, threads)
