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

When the subscription's connection drops, it is re-established with backoff; until it
is back the timer looks every `LOST_POLL` seconds at most (work published meanwhile is not
announced), and once it is back every waiter looks again.
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
from queuelab.backends.redis_queue.link import BACKOFF, Link, reason, transient

log = logging.getLogger(__name__)

#: how often waiters look while the subscription is being re-established, at most
LOST_POLL = 0.1
#: how long a close waits for the listener to stop, twice: cancelled, then its read cut
CLOSE_GRACE = 1.0


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
        self._lost = False  # the subscription dropped and is being re-established

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def poll_interval(self) -> float:
        return self._poll

    @property
    def lost(self) -> bool:
        """The subscription dropped and is being re-established."""
        return self._lost

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

    def subscription_lost(self, lost: bool) -> None:
        """Wake-ups stopped (True) or resumed (False): poll faster meanwhile, then re-look."""
        self._lost = lost
        if not lost:
            self.wake_all()  # messages may have been missed
            self._cancel_timer()  # the fast poll's tick: re-armed at the plain poll below
        self._arm()

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
        poll = min(self._poll, LOST_POLL) if self._lost else self._poll
        target = min(self._due, now + poll)
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
        self._pubsub: PubSub | None = None  # the subscription's connection, while open
        self._subscribed = asyncio.Event()
        self._refused = False  # the server will not let us subscribe: poll for good
        self._closing = False

    @property
    def listening(self) -> bool:
        """Subscribed now: wake-ups published from here on will arrive."""
        return self._subscribed.is_set()

    async def ready(self, deadline: float | None = None) -> None:
        """Subscribed, or given up waiting for it (the timer still wakes the waiters).

        Only a first subscription is waited for - `settle` seconds at most, and never past
        `deadline` (loop time), the claimer's own. One being re-established is not: its
        waiters already look every LOST_POLL seconds, and all look again once it is back.
        """
        if self._refused or self._closing:
            return
        if self._task is None or self._task.done():
            self._subscribed = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"redis wake-ups {self._channel}")
        if not self._subscribed.is_set() and not self._wakeups.lost:
            give_up = asyncio.get_running_loop().time() + self._settle
            if deadline is not None:
                give_up = min(give_up, deadline)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(give_up):
                    await self._subscribed.wait()

    def open(self) -> None:
        """The handle is (re)opened: the first wait subscribes again."""
        self._closing = False

    async def close(self) -> None:
        """Stop listening, surely. A cancellation lost inside redis-py (seen about once in
        20 killed-connection runs: the listener read on, `cancelling`, and the queue's
        close hung; the class of redis/redis-py#2028) must not hang a close, so the loop
        also ends on a flag, and a read that goes on is cut under it."""
        self._closing = True
        self._subscribed.clear()  # a reopened handle must subscribe anew before it trusts it
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if not done:
            pubsub = self._pubsub
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if not done:
            log.error("%s: the wake-up listener did not stop; left behind", self._link.shown)
            return
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            log.error("%s: the wake-up listener failed: %s", self._link.shown, reason(failure))

    def _stopping(self) -> bool:
        task = asyncio.current_task()
        return self._closing or (task is not None and task.cancelling() > 0)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping():
            client = self._link.client
            if client is None:
                return
            pubsub: PubSub = client.pubsub()
            self._pubsub = pubsub
            try:
                await pubsub.subscribe(self._channel)
                while not self._stopping():
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
                        if self._wakeups.lost:  # also one lost before a close and reopen
                            self._wakeups.subscription_lost(False)
            except Exception as exc:
                self._subscribed.clear()
                if self._stopping():
                    return
                if not transient(exc):  # e.g. an ACL without SUBSCRIBE: say so once, poll
                    self._refused = True
                    self._wakeups.subscription_lost(False)  # for good: the plain poll
                    log.error(
                        "%s: no wake-ups (%s); waiting claimers look every %g s instead",
                        self._link.shown,
                        reason(exc),
                        self._wakeups.poll_interval,
                    )
                    return
                if not failures:
                    self._wakeups.subscription_lost(True)
                    log.warning(
                        "%s: lost the wake-up subscription (%s); waiting claimers look every "
                        "%g s until it is back",
                        self._link.shown,
                        reason(exc),
                        min(self._wakeups.poll_interval, LOST_POLL),
                    )
                failures += 1
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if self._stopping():
                return
            await asyncio.sleep(BACKOFF[min(failures - 1, len(BACKOFF) - 1)])

    def _on(self, data: bytes) -> None:
        if data[:1] == b"@":
            self._wakeups.due(self._to_local(float(data[1:])))
        else:
            self._wakeups.wake(int(data))
