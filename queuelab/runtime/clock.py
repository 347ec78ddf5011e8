"""Scenario time for a live run: the one object every live duration is scaled through.

A live run plays scenario seconds at `time_scale` wall seconds each (0.02: fifty scenario
seconds per wall second), so tests and demos run minutes of traffic in seconds while every
number the run reports stays in scenario seconds, comparable with the simulator's. Arrivals,
service times, backoffs, check intervals, breaker times, startup delays, sample intervals,
timeouts and leases are all given in scenario seconds and turned into wall time here only.

Pausing stops scenario time: `now()` stands still, sleepers reaching their wall deadline
during a pause wait for the resume and then sleep what is left, and task timeouts are
suspended. So a paused synthetic run is frozen whole: no arrival, no completion, no timeout.
(A user's handler is real code and keeps running; if it ends during the pause, its end is
stamped with the paused time.) Sleeps target absolute scenario times, so timer lateness does
not accumulate from one sleep to the next.

Timer lateness: an event loop wakes a sleeper a little after its deadline (scheduling, a
busy machine): a fraction of a millisecond usually, several now and then. Unscaled that is
noise; at a time scale of 0.02 one millisecond is 0.05 scenario seconds, and every service
time would come out that much long. So plain sleeps (`sleep`, `sleep_until` without a
pulse: service times, backoffs, cold starts - durations of work) learn the typical lateness
(`lead`, a running estimate driven by each wake-up's error) and set their timers that much
early: single wake-ups still jitter both ways, but such durations are right on average.
Sleeps with a pulse (arrivals, frames, autoscaler checks, breaker waits) are points in time
that must not come early; they never end before their time (if late, late).
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType
from typing import Any

LEAD_GAIN = 0.05  # how fast the lateness estimate follows each wake-up's error
LEAD_MAX = 0.02  # wall seconds: never wake more than this early


class Pulse:
    """A broadcast wake-up: `fire()` ends every `ScenarioClock.sleep_until` waiting on it.

    It carries no state: a sleeper checks what changed (a flag, a generation) after waking,
    and checks it before sleeping too, so a fire while nobody sleeps is never needed later.
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def fire(self) -> None:
        fut, self._future = self._future, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        fut = self._future
        if fut is None or fut.done():
            fut = self._future = loop.create_future()
        return fut


def _wake(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


class ScenarioClock:
    """Scenario seconds = (loop.time() - t0 - paused wall time) / time_scale."""

    def __init__(self, time_scale: float) -> None:
        if not (time_scale > 0 and math.isfinite(time_scale)):
            raise ValueError(f"time_scale: must be a finite number > 0 (got {time_scale})")
        self.time_scale = float(time_scale)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._paused_at: float | None = None  # loop time the current pause began
        self.lead = 0.0  # wall seconds timers are set early by: the learned lateness
        self._pauses = 0  # pauses so far: a sleep that spanned one measures no lateness
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._timeouts: dict[asyncio.Timeout, float | None] = {}  # live ones; remaining when paused

    # -- reading ------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._loop is not None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def now(self) -> float:
        """Scenario seconds since `start()` (0 before it; standing still while paused)."""
        loop = self._loop
        if loop is None:
            return 0.0
        at = self._paused_at if self._paused_at is not None else loop.time()
        return (at - self._t0) / self.time_scale

    def wall(self, scenario_seconds: float) -> float:
        """A scenario duration in wall seconds (for what backends measure: leases, delays)."""
        return scenario_seconds * self.time_scale

    # -- control ------------------------------------------------------------------------------

    def start(self) -> None:
        """Scenario time 0 is now; needs a running event loop."""
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()

    def pause(self) -> None:
        if self._loop is None or self._paused_at is not None:
            return
        self._paused_at = now = self._loop.time()
        self._pauses += 1
        self._resumed.clear()
        for timeout in self._timeouts:
            when = timeout.when()
            self._timeouts[timeout] = None if when is None else max(0.0, when - now)
            timeout.reschedule(None)

    def resume(self) -> None:
        if self._loop is None or self._paused_at is None:
            return
        now = self._loop.time()
        self._t0 += now - self._paused_at
        self._paused_at = None
        self._resumed.set()
        for timeout, remaining in self._timeouts.items():
            if remaining is not None:
                timeout.reschedule(now + remaining)

    async def wait_running(self) -> None:
        """Return at once unless paused; then when resumed."""
        if self._paused_at is not None:
            await self._resumed.wait()

    # -- sleeping -----------------------------------------------------------------------------

    async def sleep(self, scenario_seconds: float) -> None:
        await self.sleep_until(self.now() + scenario_seconds)

    async def sleep_until(self, t: float, pulse: Pulse | None = None) -> bool:
        """Sleep until scenario time `t` (inf: until woken); False if `pulse` fired first.

        Without a pulse the sleep is a duration and may end up to `lead` early (see above);
        with one it never ends before `t`.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("the scenario clock has not been started")
        if pulse is None and not math.isfinite(t):
            raise ValueError("sleep_until(inf) needs a pulse to end it")
        while True:
            if self._paused_at is not None:
                if pulse is None:
                    await self._resumed.wait()
                elif not await self._resumed_or(pulse):
                    return False
                continue
            if pulse is None:
                await self._sleep_duration(t)
                return True
            wall = (t - self.now()) * self.time_scale  # inf for t = inf
            if wall <= 0:
                return True
            fut: asyncio.Future[bool] = loop.create_future()
            timer = None
            if math.isfinite(wall):
                timer = loop.call_later(wall, _wake, fut, True)
            fired = pulse.future(loop)

            def on_fire(_: object, fut: asyncio.Future[bool] = fut) -> None:
                _wake(fut, False)

            fired.add_done_callback(on_fire)
            try:
                reached = await fut
            finally:
                if timer is not None:
                    timer.cancel()
                fired.remove_done_callback(on_fire)
            if not reached:
                return False

    async def _sleep_duration(self, t: float) -> None:
        """A plain sleep to `t`, set early by the lead; the lead then learns from how far
        from `t` this sleep really ended (a pause in between teaches nothing)."""
        loop = self._loop
        assert loop is not None
        target: float | None = None  # `t` in loop time, fixed while no pause intervenes
        pauses = self._pauses
        timed = False  # a timer was set: only then is the end's error the timers' lateness
        while True:
            if self._paused_at is not None:
                await self._resumed.wait()
                target = None
                continue
            wall = (t - self.now()) * self.time_scale
            if target is None:
                target, pauses = loop.time() + wall, self._pauses
            if wall <= self.lead:  # due, or sooner than a timer would really wake us
                await asyncio.sleep(0)  # still yield: a sleep is a suspension point
                break
            await asyncio.sleep(wall - self.lead)
            timed = True
        if timed and pauses == self._pauses:
            error = loop.time() - target
            self.lead = min(LEAD_MAX, max(0.0, self.lead + LEAD_GAIN * error))

    async def _resumed_or(self, pulse: Pulse) -> bool:
        """While paused: wait for the resume (True) or the pulse (False)."""
        loop = asyncio.get_running_loop()
        resumed = loop.create_task(self._resumed.wait())
        fired = pulse.future(loop)
        try:
            either: set[asyncio.Future[Any]] = {resumed, fired}
            done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            resumed.cancel()
        return resumed in done

    def timeout(self, scenario_seconds: float) -> _ScenarioTimeout:
        """`async with clock.timeout(s):` - like asyncio.timeout, in scenario seconds, paused
        while the clock is."""
        return _ScenarioTimeout(self, scenario_seconds)


class _ScenarioTimeout:
    """asyncio.Timeout whose deadline the clock moves when it pauses and resumes."""

    __slots__ = ("_clock", "_inner", "_seconds")

    def __init__(self, clock: ScenarioClock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._inner: asyncio.Timeout | None = None

    def expired(self) -> bool:
        return self._inner is not None and self._inner.expired()

    async def __aenter__(self) -> _ScenarioTimeout:
        clock = self._clock
        loop = asyncio.get_running_loop()
        wall = max(0.0, self._seconds * clock.time_scale - clock.lead)  # a duration: see lead
        if clock.paused:
            self._inner = asyncio.timeout(None)
            clock._timeouts[self._inner] = wall
        else:
            self._inner = asyncio.timeout_at(loop.time() + wall)
            clock._timeouts[self._inner] = None
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        inner = self._inner
        assert inner is not None
        self._clock._timeouts.pop(inner, None)
        await inner.__aexit__(exc_type, exc, tb)  # raises TimeoutError when it fired
        return None
