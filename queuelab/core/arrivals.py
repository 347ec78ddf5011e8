"""Arrival processes: when the next task arrives, as seeded random streams.

Both engines ask one question, `next_after(now)`: the simulator schedules the answer as an
event, the live load driver sleeps until it. Every random process here is an *exact*
(non-homogeneous) Poisson process sampled from `now` on with no memory of earlier calls, so
an engine may rebuild a process with the same rng at any moment (a user turned a knob) and
the stream stays statistically right. Pass the previous arrival's time as `now`, not a
clock reading: the deterministic processes (`constant`, `trace`) use it as their anchor and
would otherwise drift by the engine's own latency.

Hot paths are a handful of bytecodes: rng methods are bound in `__init__` and exponential
gaps are `-log(1 - U) / λ` inlined (no `expovariate` frame).

Time starts at 0: ramps, spikes and burst cycles are laid out from t = 0. `cumulative(t)` is
Λ(t) = ∫₀ᵗ λ — the expected number of arrivals in [0, t] — for theory and tests.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from queuelab.core.checks import number as _number
from queuelab.core.streams import exponential_stream

_log = math.log
_sin = math.sin
_sqrt = math.sqrt
_floor = math.floor
_INF = math.inf
_TAU = math.tau

ARRIVAL_PROCESSES: tuple[str, ...] = (
    "constant",
    "poisson",
    "bursty",
    "ramp",
    "sine",
    "spike",
    "trace",
)

_MIN_RATE = 1e-300


def _rate(name: str, value: object) -> float:
    """A rate >= 0. One below 1e-300/s counts as 0: its gaps would overflow a float."""
    x = _number(name, value, minimum=0.0)
    return x if x >= _MIN_RATE else 0.0


@runtime_checkable
class ArrivalProcess(Protocol):
    """What both engines need from a load model's arrival side."""

    def next_after(self, now: float) -> float | None:
        """Absolute time of the next arrival after `now`; None when no arrival will ever come."""
        ...

    def rate_at(self, t: float) -> float:
        """The expected instantaneous rate λ(t), tasks/s (plots and theory)."""
        ...

    def cumulative(self, t: float) -> float:
        """Λ(t): the expected number of arrivals in [0, t]."""
        ...


class ConstantArrivals:
    """One arrival every 1/rate seconds: a deterministic baseline (the D of D/M/c)."""

    __slots__ = ("_gap", "rate")

    def __init__(self, rate: float, rng: random.Random | None = None) -> None:
        self.rate = _rate("rate", rate)
        self._gap = 1.0 / self.rate if self.rate > 0.0 else _INF

    def next_after(self, now: float) -> float | None:
        if self.rate > 0.0:
            return now + self._gap
        return None

    def rate_at(self, t: float) -> float:
        return self.rate

    def cumulative(self, t: float) -> float:
        return self.rate * max(0.0, t)


class PoissonArrivals:
    """Exponential gaps at a fixed rate: the M of M/M/c, the one queueing theory predicts."""

    __slots__ = ("gap", "rate")

    def __init__(self, rate: float, rng: random.Random) -> None:
        self.rate = _rate("rate", rate)
        # the gaps of a renewal process as a block stream, which the simulator calls directly
        self.gap = exponential_stream(rng, 1.0 / self.rate) if self.rate > 0.0 else None

    def next_after(self, now: float) -> float | None:
        if self.gap is not None:
            return now + self.gap()
        return None

    def rate_at(self, t: float) -> float:
        return self.rate

    def cumulative(self, t: float) -> float:
        return self.rate * max(0.0, t)


# Bursty, spike and ramp invert Λ: one unit exponential E per arrival is spent segment by
# segment (λ·Δt of it per segment), which is exact, crosses stretches of λ = 0 at no cost,
# and draws exactly one uniform per call whatever the knobs, so common random numbers hold.


class BurstyArrivals:
    """On/off load: `rate` for `quiet_length` s, then `burst_rate` for `burst_length` s, repeated.

    Cycles start at t = k·(quiet_length + burst_length) with their quiet phase. Exact by
    inversion of Λ; whole cycles are skipped in one step, so even a nearly silent process
    answers at once.
    """

    __slots__ = (
        "_hi",
        "_lam",
        "_lo",
        "_mean_rate",
        "_per_cycle",
        "_period",
        "_random",
        "burst_length",
        "burst_rate",
        "quiet_length",
        "rate",
    )

    def __init__(
        self,
        rate: float,
        burst_rate: float,
        burst_length: float,
        quiet_length: float,
        rng: random.Random,
    ) -> None:
        self.rate = _rate("rate", rate)
        self.burst_rate = _rate("burst_rate", burst_rate)
        self.burst_length = _number("burst_length", burst_length, minimum=0.0)
        self.quiet_length = _number("quiet_length", quiet_length, minimum=0.0)
        self._period = self.burst_length + self.quiet_length
        if self._period <= 0.0:
            raise ValueError(
                "burst_length: burst_length + quiet_length must be > 0 "
                f"(got {burst_length!r} + {quiet_length!r})"
            )
        self._per_cycle = self.rate * self.quiet_length + self.burst_rate * self.burst_length
        mean_rate = self._per_cycle / self._period
        self._mean_rate = mean_rate if mean_rate >= _MIN_RATE else 0.0
        self._lo = self._hi = self._lam = 0.0  # cached phase [lo, hi) at rate lam; empty
        self._random = rng.random

    def next_after(self, now: float) -> float | None:
        e = -_log(1.0 - self._random())
        lam = self._lam  # fast path: the phase the previous answer fell in, if now is in it
        if self._lo <= now < self._hi and e < lam * (self._hi - now):
            return now + e / lam
        mean_rate = self._mean_rate
        if mean_rate <= 0.0:
            return None
        t = now
        period = self._period
        cycles_before = now / period
        if abs(cycles_before) < 2.0**52:  # else phases are below the float resolution of now
            quiet = self.rate
            burst = self.burst_rate
            per_cycle = self._per_cycle
            start = _floor(cycles_before) * period
            if start > now:  # rounding put `now` in the previous cycle
                start -= period
            elif now >= start + period:
                start += period
            for _ in range(64):  # 1 to 3 rounds unless the phases are below float resolution
                quiet_end = start + self.quiet_length
                if t < quiet_end:
                    room = quiet * (quiet_end - t)
                    if e < room:
                        self._lo, self._hi, self._lam = start, quiet_end, quiet
                        return t + e / quiet
                    e -= room
                    t = quiet_end
                cycle_end = start + period
                if t < cycle_end:
                    room = burst * (cycle_end - t)
                    if e < room:
                        self._lo, self._hi, self._lam = quiet_end, cycle_end, burst
                        return t + e / burst
                    e -= room
                # what is left of E spans `cycles` whole cycles: jump them in one step
                cycles = e // per_cycle
                if not cycles < 2.0**52:  # so far ahead that phases no longer resolve
                    break
                e -= cycles * per_cycle
                t = start = cycle_end + cycles * period
        # Where float time cannot resolve a phase, only the mean rate means anything.
        return t + e / mean_rate

    def rate_at(self, t: float) -> float:
        phase = t - _floor(t / self._period) * self._period
        return self.rate if phase < self.quiet_length else self.burst_rate

    def cumulative(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        q = self.quiet_length
        k = _floor(t / self._period)
        u = t - k * self._period
        return k * self._per_cycle + self.rate * min(u, q) + self.burst_rate * max(0.0, u - q)


class SpikeArrivals:
    """Steady `rate` plus `extra` tasks/s during [at, at + length): the incident drill."""

    __slots__ = ("_random", "at", "extra", "length", "rate")

    def __init__(
        self, rate: float, at: float, extra: float, length: float, rng: random.Random
    ) -> None:
        self.rate = _rate("rate", rate)
        self.at = _number("at", at)
        self.extra = _rate("extra", extra)
        self.length = _number("length", length, minimum=0.0)
        self._random = rng.random

    def next_after(self, now: float) -> float | None:
        e = -_log(1.0 - self._random())
        rate = self.rate
        t = now
        at = self.at
        if t < at:
            room = rate * (at - t)
            if e < room:
                return t + e / rate
            e -= room
            t = at
        end = at + self.length
        if t < end:
            lam = rate + self.extra
            room = lam * (end - t)
            if e < room:
                return t + e / lam
            e -= room
            t = end
        if rate > 0.0:
            return t + e / rate
        return None

    def rate_at(self, t: float) -> float:
        if self.at <= t < self.at + self.length:
            return self.rate + self.extra
        return self.rate

    def cumulative(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        overlap = min(t, self.at + self.length) - max(0.0, self.at)
        return self.rate * t + self.extra * max(0.0, overlap)


class RampArrivals:
    """λ goes linearly from `rate` to `to_rate` over [0, over], then stays at `to_rate`.

    Exact by inversion of Λ: E is spent on the linear stretch by solving a quadratic (in its
    cancellation-free form) and what is left continues at the final rate. One draw per
    arrival, no rejection, whatever the slope.
    """

    __slots__ = ("_random", "_slope", "over", "rate", "to_rate")

    def __init__(self, rate: float, to_rate: float, over: float, rng: random.Random) -> None:
        self.rate = _rate("rate", rate)
        self.to_rate = _rate("to_rate", to_rate)
        self.over = _number("over", over, minimum=0.0)
        self._slope = (self.to_rate - self.rate) / self.over if self.over > 0.0 else 0.0
        self._random = rng.random

    def next_after(self, now: float) -> float | None:
        e = -_log(1.0 - self._random())
        to_rate = self.to_rate
        over = self.over
        t = now
        if t < over:
            rate = self.rate
            if t < 0.0:  # before the ramp starts λ is `rate`
                room = -rate * t
                if e < room:
                    return t + e / rate
                e -= room
                t = 0.0
            slope = self._slope
            # (to - rate)·(t/over), not slope·t: for a tiny `over` the slope is infinite and
            # slope·0 would be NaN
            lam0 = rate + (to_rate - rate) * (t / over) if over > 0.0 else to_rate
            area = (lam0 + to_rate) * 0.5 * (over - t)
            if e < area:
                # λ0·s + slope·s²/2 = e, solved without cancellation for either sign of slope
                denom = lam0 + _sqrt(max(0.0, lam0 * lam0 + 2.0 * slope * e))
                return t + min(2.0 * e / denom, over - t) if denom > 0.0 else t
            e -= area
            t = over
        if to_rate > 0.0:
            return t + e / to_rate
        return None

    def rate_at(self, t: float) -> float:
        if t < 0.0:
            return self.rate
        if t >= self.over:
            return self.to_rate
        return self.rate + (self.to_rate - self.rate) * (t / self.over)

    def cumulative(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        if t <= self.over:
            return self.rate * t + 0.5 * (self.to_rate - self.rate) * (t / self.over) * t
        return 0.5 * (self.rate + self.to_rate) * self.over + self.to_rate * (t - self.over)


class SineArrivals:
    """λ(t) = max(0, rate + amplitude·sin(2πt/period)): a daily (or minutely) cycle.

    Lewis–Shedler thinning under the constant bound rate + |amplitude|, the true maximum,
    so the result is exact. When amplitude > rate, λ is clipped to 0 on part of each
    period: a candidate that lands there jumps straight to where λ turns positive again
    (no arrival can fall in between, and the thinned stream restarts memorylessly), so a
    long silent stretch costs one step, not bound × length rejections.
    """

    __slots__ = (
        "_bound",
        "_inv_bound",
        "_mean_rate",
        "_omega",
        "_random",
        "_rise",
        "amplitude",
        "period",
        "rate",
    )

    def __init__(self, rate: float, amplitude: float, period: float, rng: random.Random) -> None:
        self.rate = _rate("rate", rate)
        self.amplitude = _number("amplitude", amplitude)
        self.period = _number("period", period, above=0.0)
        self._omega = _TAU / self.period
        bound = self.rate + abs(self.amplitude)
        self._bound = bound if bound >= _MIN_RATE else 0.0
        self._inv_bound = 1.0 / self._bound if self._bound > 0.0 else _INF
        self._mean_rate = self.cumulative(self.period) / self.period
        # phase 2πt/period where a positive stretch begins (λ rises through 0), when clipped
        if self.rate < abs(self.amplitude):
            rise = math.asin(-self.rate / abs(self.amplitude))
            self._rise = rise if self.amplitude > 0.0 else rise - math.pi
        else:
            self._rise = math.nan
        self._random = rng.random

    def next_after(self, now: float) -> float | None:
        bound = self._bound
        if bound <= 0.0:
            return None
        random_ = self._random
        rate = self.rate
        amplitude = self.amplitude
        omega = self._omega
        inv_bound = self._inv_bound
        t = now
        for _ in range(1000):  # a handful of rounds unless time is below float resolution
            t -= _log(1.0 - random_()) * inv_bound
            lam = rate + amplitude * _sin(omega * t)
            if lam > 0.0:
                if random_() * bound < lam:
                    return t
            elif self._rise == self._rise:  # clipped: jump to the next rise
                cycles = math.ceil((omega * t - self._rise) / _TAU)
                t = max(t, (self._rise + _TAU * cycles) / omega)
        # Only reached where the period is below the float resolution of t (or after an
        # astronomically unlikely run of rejections): there only the mean rate means anything.
        return t - _log(1.0 - random_()) / self._mean_rate

    def rate_at(self, t: float) -> float:
        return max(0.0, self.rate + self.amplitude * _sin(self._omega * t))

    def cumulative(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        r = self.rate
        a = self.amplitude
        x = self._omega * t
        if a > 0.0:
            integral = _positive_sine_integral(r, a, x)
        elif a < 0.0:  # r - |a| sin θ = r + |a| sin(θ + π)
            integral = _positive_sine_integral(r, -a, x + math.pi) - _positive_sine_integral(
                r, -a, math.pi
            )
        else:
            integral = max(0.0, r) * x
        return integral / self._omega


def _positive_sine_integral(r: float, a: float, x: float) -> float:
    """∫₀ˣ max(0, r + a·sin θ) dθ for a > 0 and x >= 0, exactly (clipping included)."""
    if r >= a:
        return r * x + a * (1.0 - math.cos(x))
    if r <= -a:
        return 0.0
    th1 = math.asin(-r / a)  # r + a sin θ > 0 on (th1, th2) + 2πk
    th2 = math.pi - th1

    def antiderivative(th: float) -> float:
        return r * th - a * math.cos(th)

    cycles = _floor(x / _TAU)
    y = x - cycles * _TAU
    total = cycles * (antiderivative(th2) - antiderivative(th1))
    for shift in (0.0, _TAU):
        lo = max(0.0, th1 + shift)
        hi = min(y, th2 + shift)
        if hi > lo:
            total += antiderivative(hi) - antiderivative(lo)
    return total


class TraceArrivals:
    """Replays recorded arrival times (already loaded, absolute seconds), each exactly once.

    Unlike the random processes a trace has a cursor: `next_after(now)` returns the next
    time not yet returned that is >= now (so ties and a time equal to the start are
    replayed too, not swallowed by "strictly after"); times before `now` are skipped, so a
    trace rebuilt mid-run joins at the current time. None once the trace is exhausted.
    """

    __slots__ = ("_n", "_next", "times", "window")

    def __init__(
        self,
        times: Sequence[float],
        rng: random.Random | None = None,
        *,
        window: float | None = None,
    ) -> None:
        self.times = tuple(sorted(_number(f"times[{i}]", x) for i, x in enumerate(times)))
        self._n = len(self.times)
        self._next = 0
        if window is None:
            span = self.times[-1] - self.times[0] if self._n else 0.0
            # ten mean gaps (span over n - 1 of them): about ten arrivals per window, smooth
            # enough to plot, still local, and exactly ten for an evenly spaced trace (a
            # window of a gap less would read it a tenth low at some times, not at others)
            window = span * min(1.0, 10.0 / (self._n - 1)) if span > 0.0 else 1.0
        self.window = _number("window", window, above=0.0)

    def next_after(self, now: float) -> float | None:
        times = self.times
        i = self._next
        if i < self._n and times[i] >= now:
            self._next = i + 1
            return times[i]
        i = bisect_left(times, now, i)
        if i >= self._n:
            self._next = self._n
            return None
        self._next = i + 1
        return times[i]

    def rate_at(self, t: float) -> float:
        """A trace has no λ; this is its local density, arrivals per second in a window at t."""
        half = 0.5 * self.window
        count = bisect_left(self.times, t + half) - bisect_left(self.times, t - half)
        return count / self.window

    def cumulative(self, t: float) -> float:
        """The recorded (not expected) number of arrivals in [0, t]."""
        if t < 0.0:
            return 0.0
        return float(bisect_right(self.times, t) - bisect_left(self.times, 0.0))


def spread_counts(counts: Sequence[tuple[float, float, int]], rng: random.Random
                  ) -> tuple[float, ...]:
    """Arrival times from counts per interval: `(start, end, n)` rows, each spread as a
    Poisson process inside its interval.

    Given that a Poisson process put n arrivals in [start, end), their times are n
    independent uniform draws there (sorted): the recorded counts are kept exactly, and
    within an interval the arrivals are as random as a Poisson stream. How a trace of
    counts (a monitored queue's history, `queuelab monitor export-trace`) is replayed.
    """
    out: list[float] = []
    for i, (start, end, n) in enumerate(counts):
        a = _number(f"counts[{i}].start", start)
        b = _number(f"counts[{i}].end", end)
        if b <= a:
            raise ValueError(f"counts[{i}]: end {b:g} is not after start {a:g}")
        if n < 0 or int(n) != n:
            raise ValueError(f"counts[{i}]: count {n!r} is not a whole number >= 0")
        out.extend(a + (b - a) * rng.random() for _ in range(int(n)))
    out.sort()
    return tuple(out)


def make_arrivals(
    process: str,
    rng: random.Random,
    *,
    rate: float,
    burst_rate: float | None = None,
    burst_length: float = 10.0,
    quiet_length: float = 50.0,
    to_rate: float | None = None,
    over: float = 60.0,
    amplitude: float | None = None,
    period: float = 60.0,
    at: float = 60.0,
    extra: float | None = None,
    length: float = 10.0,
    times: Sequence[float] = (),
) -> ArrivalProcess:
    """Build the arrival process a scenario names; only the knobs that process uses matter.

    Defaults that depend on the base rate follow it: burst_rate = 5·rate, to_rate = 2·rate,
    amplitude = rate/2, extra = 4·rate. `trace` ignores `rate` and replays `times`.
    """
    if process == "constant":
        return ConstantArrivals(rate, rng)
    if process == "poisson":
        return PoissonArrivals(rate, rng)
    if process == "trace":
        return TraceArrivals(times, rng)
    base = _number("rate", rate, minimum=0.0)
    if process == "bursty":
        burst = 5.0 * base if burst_rate is None else burst_rate
        return BurstyArrivals(base, burst, burst_length, quiet_length, rng)
    if process == "ramp":
        return RampArrivals(base, 2.0 * base if to_rate is None else to_rate, over, rng)
    if process == "sine":
        return SineArrivals(base, 0.5 * base if amplitude is None else amplitude, period, rng)
    if process == "spike":
        return SpikeArrivals(base, at, 4.0 * base if extra is None else extra, length, rng)
    raise ValueError(
        f"process: unknown arrival process {process!r} "
        f"(choose one of {', '.join(ARRIVAL_PROCESSES)})"
    )
