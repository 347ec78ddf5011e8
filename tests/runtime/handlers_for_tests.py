"""User handlers the runtime tests name as `tests.runtime.handlers_for_tests:<function>`."""

from __future__ import annotations

import asyncio
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
