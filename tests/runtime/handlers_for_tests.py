"""User handlers the runtime tests name as `tests.runtime.handlers_for_tests:<function>`."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

from queuelab.core.task import Task

REFUSED_EVERY = 4  # tasks whose number is a multiple of this always fail


class Refused(Exception):
    """What `flaky` raises: its name becomes the dead letter's error kind."""


def _check(task: Task) -> None:
    n = task.payload["n"]
    if n % REFUSED_EVERY == 0:
        raise Refused(f"flaky: task {task.id} refused (n = {n}, attempt {task.attempts})")


def flaky(task: Task) -> None:
    """A sync handler (run in a thread): short work, then refuses every fourth task."""
    time.sleep(0.002)
    _check(task)


async def flaky_async(task: Task) -> None:
    """The same, as a coroutine."""
    await asyncio.sleep(0.002)
    _check(task)


_lock = threading.Lock()
running = 0
most_running = 0


def slow_sync(task: Task) -> None:
    """Blocks its thread for 50 ms, counting how many calls overlap."""
    global running, most_running
    with _lock:
        running += 1
        most_running = max(most_running, running)
    try:
        time.sleep(0.05)
    finally:
        with _lock:
            running -= 1


not_callable = 42


SLOW_FIRST = 0.6  # wall seconds the first attempt of task number 1 takes


async def slow_first_attempt(task: Task) -> None:
    """Task number 1's first attempt outlasts a short lease; everything else is quick."""
    await asyncio.sleep(SLOW_FIRST if task.payload["n"] == 1 and task.attempts == 1
                        else 0.001)


# -- handlers that misbehave on every fourth task: the run must go on ---------------------

MISBEHAVES_EVERY = 4
HUGE = 50_000_000  # characters in `huge_message`'s error


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        raise RuntimeError("not either")


def _misbehaves(task: Task) -> bool:
    return bool(task.payload["n"] % MISBEHAVES_EVERY == 0)


def exits(task: Task) -> None:
    """Calls exit(), as a script would."""
    if _misbehaves(task):
        sys.exit(3)


async def exits_async(task: Task) -> None:
    await asyncio.sleep(0.001)
    if _misbehaves(task):
        raise SystemExit("bye")


def interrupts(task: Task) -> None:
    if _misbehaves(task):
        raise KeyboardInterrupt


async def interrupts_async(task: Task) -> None:
    if _misbehaves(task):
        raise KeyboardInterrupt


async def cancels_itself(task: Task) -> None:
    await asyncio.sleep(0.001)
    if _misbehaves(task):
        raise asyncio.CancelledError


def unprintable(task: Task) -> None:
    if _misbehaves(task):
        raise Unprintable


def huge_message(task: Task) -> None:
    if _misbehaves(task):
        raise ValueError("x" * HUGE)


_forever = threading.Event()  # never set: the call blocks its thread for good


def blocks_forever(task: Task) -> None:
    """A sync handler that never returns for every fourth task (no timeout can stop it)."""
    if _misbehaves(task):
        _forever.wait()
