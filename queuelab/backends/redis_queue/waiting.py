"""Waiting claimers: woken by pub/sub when work arrives, by one timer when something falls due.

A blocking pop would hold a pooled connection per waiting worker and could not wake for a
retry falling due. Instead the scripts that make tasks ready PUBLISH how many on the
queue's channel (a retry scheduled for later publishes `@due`); one subscription per queue
handle wakes that many of its waiting claimers, oldest first. A waiter who loses the race
to another process simply waits again.

What no message announces - a lease running out, or a lease another process took after
this one last looked - is covered by one timer per handle: it fires at the earliest due
time known (the claim script returns it when it finds nothing) and at the latest
`poll_interval` after the last look, and wakes one waiter to look again. An idle handle
therefore asks the server once per `poll_interval`, not once per waiter.

When the subscription's connection drops, it is re-established with backoff and every
waiter looks again, since messages may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable

from redis.asyncio.client import PubSub

from queuelab.backends.base import wake_oldest
from queuelab.backends.redis_queue.link import Link, reason, transient

log = logging.getLogger(__name__)


class Wakeups:
    """This handle's waiting claimers, oldest first, and the one timer that re-looks.

    A claimer `enter`s before its first look and `leave`s when done. A wake-up that finds
    fewer sleepers than it names is kept as a credit for claimers still looking (at most
    one each), so work announced while a claimer's look was on the wire is not slept
    through; a wake-up nobody could use is dropped.
    """

    def __init__(self, poll_interval: float) -> None:
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._entered = 0  # claimers looking or sleeping
        self._credits = 0  # wake-ups owed to claimers that were looking
        self._due = math.inf  # wall-clock second something may become ready
        self._poll = poll_interval
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def poll_interval(self) -> float:
        return self._poll

    def enter(self) -> None:
        self._entered += 1

    def leave(self) -> None:
        self._entered -= 1
        self._credits = min(self._credits, self._entered - len(self._waiters))

    def wake(self, n: int) -> None:
        """Wake up to `n` waiting claimers, oldest first; owe the rest to those looking."""
        n = wake_oldest(self._waiters, n)
        if n > 0:
            self._credits = min(self._credits + n, self._entered - len(self._waiters))

    def wake_all(self) -> None:
        self.wake(self._entered)

    def due(self, at: float) -> None:
        """Something becomes claimable at wall-clock second `at`."""
        if at < self._due:
            self._due = at
            if self._waiters:
                self._arm()

    async def wait(self, deadline: float | None) -> bool:
        """Sleep until woken (True) or until `deadline` in loop time (False)."""
        if self._credits > 0:
            self._credits -= 1
            return True
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(fut)
        self._arm()
        timeout = None if deadline is None else loop.call_at(deadline, _time_up, fut)
        try:
            return await fut
        except asyncio.CancelledError:
            # woken, then cancelled before it could look: hand the wake-up on
            if fut.done() and not fut.cancelled() and fut.result():
                self.wake(1)
            raise
        finally:
            if timeout is not None:
                timeout.cancel()
            if not (fut.done() and not fut.cancelled() and fut.result()):
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)

    def close(self) -> None:
        self._cancel_timer()
        self.wake_all()

    def _arm(self) -> None:
        if not self._waiters:
            self._cancel_timer()
            return
        now = time.time()
        target = min(self._due, now + self._poll)
        if self._timer is not None and self._timer_at <= target:
            return
        self._cancel_timer()
        # a little late rather than early: the server must see the due time as passed
        self._timer = asyncio.get_running_loop().call_later(
            max(0.0, target - now) + 0.002, self._tick
        )
        self._timer_at = target

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = math.inf

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        if time.time() >= self._due:
            self._due = math.inf
        self.wake(1)
        if self._waiters:
            self._arm()


def _time_up(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


class Listener:
    """The handle's subscription to its queue's wake-up channel, started on first wait."""

    def __init__(
        self,
        link: Link,
        channel: str,
        wakeups: Wakeups,
        to_local: Callable[[float], float],
        settle: float,
    ) -> None:
        self._link = link
        self._channel = channel
        self._wakeups = wakeups
        self._to_local = to_local  # server wall-clock second -> this machine's
        self._settle = settle  # how long a first waiter waits for the subscription
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._refused = False  # the server will not let us subscribe: poll for good

    @property
    def listening(self) -> bool:
        """Subscribed now: wake-ups published from here on will arrive."""
        return self._subscribed.is_set()

    async def ready(self) -> None:
        """Subscribed (or given up waiting for it: the timer still wakes the waiters)."""
        if self._refused:
            return
        if self._task is None or self._task.done():
            self._subscribed = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"redis wake-ups {self._channel}")
        if not self._subscribed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settle):
                    await self._subscribed.wait()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while True:
            client = self._link.client
            if client is None:
                return
            pubsub: PubSub = client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                while True:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is None:
                        continue
                    if msg["type"] == "message":
                        self._on(msg["data"])
                    elif msg["type"] == "subscribe":
                        self._subscribed.set()
                        if failures:
                            log.warning("%s: wake-ups restored", self._link.shown)
                            failures = 0
                            self._wakeups.wake_all()  # messages may have been missed
            except Exception as exc:
                self._subscribed.clear()
                if not transient(exc):  # e.g. an ACL without SUBSCRIBE: say so once, poll
                    self._refused = True
                    log.error(
                        "%s: no wake-ups (%s); waiting claimers look every %g s instead",
                        self._link.shown,
                        reason(exc),
                        self._wakeups.poll_interval,
                    )
                    return
                if not failures:
                    log.warning(
                        "%s: lost the wake-up subscription (%s); waiting claimers fall back "
                        "to polling until it is back",
                        self._link.shown,
                        reason(exc),
                    )
                failures += 1
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(min(0.05 * 2 ** min(failures, 5), 1.0))

    def _on(self, data: bytes) -> None:
        if data[:1] == b"@":
            self._wakeups.due(self._to_local(float(data[1:])))
        else:
            self._wakeups.wake(int(data))
