"""Autoscalers: how many workers the pool should have, given the backlog.

An autoscaler only recommends. Every `check_interval` seconds the engine hands it the time
and a `PoolObservation` and gets back the desired worker count; the engine then starts
workers, or drains idle ones first and busy ones after they finish (it never kills a busy
worker). Because both engines call the same object with the same observations, a tuning
found in the simulator behaves the same way live.

Three strategies:

* `ThresholdAutoscaler` - the classic dynamic pool: one worker more above one
  backlog threshold, one fewer below another. Simple and predictable, slow to follow a burst.
* `TargetTrackingAutoscaler` - Kubernetes HPA on a queue-length metric, with KEDA's
  activation for scale-to-zero: sizes the pool so each worker has about `target_per_worker`
  waiting tasks, damped by tolerance, stabilization windows, step limits and a cooldown.
* `KedaAutoscaler` (`core.policies.keda`) - a KEDA ScaledObject over the Kubernetes HPA,
  rule for rule: behavior policies, selectPolicy, KEDA's polling and cooldown to zero.

The engine asks `next_check` when to call `decide` again: every check interval for the first
two; on the HPA's sync and KEDA's polling slots for the third.

The first two can also refuse to scale down into overload (`scale_down_max_utilization`,
`scale_down_floor`): a step down is taken only if the arrival rate the engine measured,
over the capacity left after the step, stays below that utilization. A rule on the backlog
alone cannot know this: the backlog is empty both when the pool is comfortably large and
when it is just large enough, which is why a backlog threshold flaps.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from queuelab.core.checks import integer, known, number

AUTOSCALER_KINDS = ("threshold", "target", "keda")


@dataclass(frozen=True, slots=True)
class PoolObservation:
    """What the engine saw at a check.

    `backlog`: tasks ready to be claimed now (not those waiting out a retry backoff, which
    are `retrying`). `workers`: workers counting toward capacity, running or still starting
    - not draining ones, which are leaving anyway. `busy`: of all workers, those running a task.

    `arrival_rate` and `service_rate` are what a real autoscaler can measure, not the
    scenario's knobs: new tasks per second, and attempts finished per busy worker-second
    (1 / the measured mean service time), both over the frames closed in the last
    `RATE_WINDOW` seconds (`MetricsRecorder.recent_rates`, which both engines feed). None:
    not measured yet (no frame closed, or no attempt finished in the window).
    """

    backlog: int
    workers: int
    busy: int
    retrying: int = 0
    arrival_rate: float | None = None
    service_rate: float | None = None

    def __post_init__(self) -> None:
        for name in ("backlog", "workers", "busy", "retrying"):
            integer(name, getattr(self, name), minimum=0)
        for name in ("arrival_rate", "service_rate"):
            if getattr(self, name) is not None:
                number(name, getattr(self, name), minimum=0.0)


def scale_down_floor(obs: PoolObservation, max_utilization: float) -> int | None:
    """The fewest workers that carry the measured load below `max_utilization`, or None when
    no count is known to (load arriving, but no service rate measured yet).

    The smallest m with arrival_rate / (m × service_rate) < max_utilization; 0 when nothing
    arrives. Not measured at all (no arrival rate yet): None, since no headroom is proven.
    """
    lam, mu = obs.arrival_rate, obs.service_rate
    if lam is None:
        return None
    if lam == 0.0:
        return 0
    if mu is None or mu == 0.0:
        return None
    per_worker = max_utilization * mu
    m = math.floor(lam / per_worker)
    # The division rounds: settle m on the exact comparison, lam < m × x × mu.
    while not lam < m * per_worker:
        m += 1
    while m > 0 and lam < (m - 1) * per_worker:
        m -= 1
    return m


def _capacity_check(knobs: dict[str, object]) -> float:
    return number("scale_down_max_utilization", knobs["scale_down_max_utilization"],
                  above=0.0, maximum=1.0)


@runtime_checkable
class Autoscaler(Protocol):
    def decide(self, now: float, obs: PoolObservation) -> int:
        """The desired worker count, always within [min_workers, max_workers]."""
        ...

    def describe(self) -> str:
        """One line for logs and plot markers."""
        ...

    def reconfigure(self, **knobs: object) -> None:
        """Change knobs at run time; all are checked before any applies; history is kept."""
        ...

    def knobs(self) -> Mapping[str, object]:
        """The current knob values, by name."""
        ...

    def next_check(self, now: float, interval: float) -> float:
        """When the engine should call `decide` next, given the pool's check interval."""
        ...


def _clamp(value: int, low: int, high: int) -> int:
    return low if value < low else high if value > high else value


class ThresholdAutoscaler:
    """The threshold rule, one step per check.

    backlog > scale_up_threshold and workers < max_workers -> workers + 1;
    otherwise backlog < scale_down_threshold and workers > min_workers -> workers - 1;
    otherwise workers. The result is clamped into [min_workers, max_workers], so a pool
    started below `min_workers` (or left above a lowered `max_workers`) is brought into range
    at once. The gap between the two thresholds is the only damping: a narrow gap flaps.

    With `scale_down_max_utilization` x < 1 the step down also needs
    arrival_rate / ((workers - 1) × service_rate) < x, as measured (`scale_down_floor`);
    x = 1 turns that off.
    """

    kind = "threshold"
    _KNOBS = ("min_workers", "max_workers", "scale_up_threshold", "scale_down_threshold",
              "scale_down_max_utilization")

    __slots__ = ("max_workers", "min_workers", "scale_down_max_utilization",
                 "scale_down_threshold", "scale_up_threshold")

    def __init__(
        self,
        min_workers: int,
        max_workers: int,
        scale_up_threshold: float,
        scale_down_threshold: float,
        scale_down_max_utilization: float = 1.0,
    ) -> None:
        self._apply(
            {
                "min_workers": min_workers,
                "max_workers": max_workers,
                "scale_up_threshold": scale_up_threshold,
                "scale_down_threshold": scale_down_threshold,
                "scale_down_max_utilization": scale_down_max_utilization,
            }
        )

    def _apply(self, knobs: dict[str, object]) -> None:
        low, high = _check_bounds(knobs)
        up = number("scale_up_threshold", knobs["scale_up_threshold"], minimum=0.0)
        down = number("scale_down_threshold", knobs["scale_down_threshold"], minimum=0.0)
        if down > up:
            raise ValueError(
                f"scale_down_threshold: must be <= scale_up_threshold ({down:g} > {up:g})"
            )
        limit = _capacity_check(knobs)
        self.min_workers, self.max_workers = low, high
        self.scale_up_threshold, self.scale_down_threshold = up, down
        self.scale_down_max_utilization = limit

    def decide(self, now: float, obs: PoolObservation) -> int:
        workers = obs.workers
        if obs.backlog > self.scale_up_threshold and workers < self.max_workers:
            workers += 1
        elif obs.backlog < self.scale_down_threshold and workers > self.min_workers:
            limit = self.scale_down_max_utilization
            floor = 0 if limit >= 1.0 else scale_down_floor(obs, limit)
            if floor is not None and workers - 1 >= floor:
                workers -= 1
        return _clamp(workers, self.min_workers, self.max_workers)

    def reconfigure(self, **knobs: object) -> None:
        known("threshold autoscaler", knobs, self._KNOBS)
        self._apply({**self.knobs(), **knobs})

    def knobs(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self._KNOBS}

    def next_check(self, now: float, interval: float) -> float:
        return now + interval

    def describe(self) -> str:
        return (
            f"threshold: {self.min_workers}..{self.max_workers} workers, "
            f"+1 when backlog > {self.scale_up_threshold:g}, "
            f"-1 when backlog < {self.scale_down_threshold:g}"
        ) + _describe_capacity(self.scale_down_max_utilization)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.knobs().items())
        return f"ThresholdAutoscaler({inner})"


class TargetTrackingAutoscaler:
    """HPA-style target tracking on the backlog, with KEDA activation for scale-to-zero.

    Each check computes a raw recommendation, ceil(backlog / target_per_worker), then damps
    it. Every knob trades reaction speed for stability (less flapping):

    * `target_per_worker` - waiting tasks each worker may have. Lower: more workers, shorter
      waits, more churn as the backlog fluctuates.
    * `tolerance` - no change while backlog / (workers * target) is within 1 +- tolerance:
      a dead band that swallows small fluctuations (HPA's default is 0.1). At 1 an empty
      queue is inside the band: the pool then only grows (or sleeps, through activation).
    * `stabilization_up` - scale up to the MIN of the raw recommendations over this many
      seconds: a burst must last that long to add its full share of workers. 0 reacts at once.
    * `stabilization_down` - scale down only to the MAX of the raw recommendations over this
      many seconds: one quiet check cannot shrink a pool a spike just grew, and the pool never
      goes below a recommendation made within the window. The main anti-flapping knob
      (HPA's default is 300 s).
    * `max_step` - at most this many workers added or removed per decision: limits how far a
      single mistaken decision reaches.
    * `cooldown` - after any change, hold the count for this many seconds so the new workers'
      effect shows in the backlog before the next decision (checked every `check_interval`).
    * `activation` - with `min_workers == 0` only (KEDA's activation threshold): a pool at 0
      wakes, to exactly 1 worker, only when the backlog exceeds it; the pool returns to 0 only
      once the backlog has stayed at or below it for the whole down window. Waking is
      immediate, ignoring the up window and the cooldown, so work never starves at zero.
    * `scale_down_max_utilization` - below 1, a scale-down stops at the fewest workers that
      carry the measured arrival rate below this utilization (`scale_down_floor`); if that is
      not measured yet, no scale-down. 1: off.

    The result is finally clamped into [min_workers, max_workers], which overrides the step
    limit and the cooldown. Raw recommendations are remembered (unclamped) for the longest
    window; `reconfigure` keeps them, so turning a knob mid-run does not restart the windows.
    """

    kind = "target"
    _KNOBS = (
        "min_workers",
        "max_workers",
        "target_per_worker",
        "tolerance",
        "stabilization_up",
        "stabilization_down",
        "max_step",
        "cooldown",
        "activation",
        "scale_down_max_utilization",
    )

    __slots__ = (
        "_highs",
        "_last_change",
        "_last_now",
        "_last_raw",
        "_lows",
        "activation",
        "cooldown",
        "max_step",
        "max_workers",
        "min_workers",
        "scale_down_max_utilization",
        "stabilization_down",
        "stabilization_up",
        "target_per_worker",
        "tolerance",
    )

    def __init__(
        self,
        min_workers: int,
        max_workers: int,
        target_per_worker: float,
        tolerance: float = 0.1,
        stabilization_up: float = 0.0,
        stabilization_down: float = 300.0,
        max_step: int = 4,
        cooldown: float = 0.0,
        activation: float = 0.0,
        scale_down_max_utilization: float = 1.0,
    ) -> None:
        self._apply(
            {
                "min_workers": min_workers,
                "max_workers": max_workers,
                "target_per_worker": target_per_worker,
                "tolerance": tolerance,
                "stabilization_up": stabilization_up,
                "stabilization_down": stabilization_down,
                "max_step": max_step,
                "cooldown": cooldown,
                "activation": activation,
                "scale_down_max_utilization": scale_down_max_utilization,
            }
        )
        # Sliding-window extremes of (time, raw recommendation): `_lows` keeps rising values
        # (its first entry inside a window is that window's min), `_highs` falling ones (max).
        # An entry dominated by a later one can never be a window's extreme again, so both
        # stay short; entries leave once older than the longest window.
        self._lows: deque[tuple[float, int]] = deque()
        self._highs: deque[tuple[float, int]] = deque()
        self._last_change = -math.inf
        self._last_now = -math.inf
        self._last_raw: int | None = None

    def _apply(self, knobs: dict[str, object]) -> None:
        low, high = _check_bounds(knobs)
        target = number("target_per_worker", knobs["target_per_worker"], above=0.0)
        tolerance = number("tolerance", knobs["tolerance"], minimum=0.0, maximum=1.0)
        up = number("stabilization_up", knobs["stabilization_up"], minimum=0.0)
        down = number("stabilization_down", knobs["stabilization_down"], minimum=0.0)
        step = integer("max_step", knobs["max_step"], minimum=1)
        cooldown = number("cooldown", knobs["cooldown"], minimum=0.0)
        activation = number("activation", knobs["activation"], minimum=0.0)
        limit = _capacity_check(knobs)
        self.scale_down_max_utilization = limit
        self.min_workers, self.max_workers = low, high
        self.target_per_worker, self.tolerance = target, tolerance
        self.stabilization_up, self.stabilization_down = up, down
        self.max_step, self.cooldown, self.activation = step, cooldown, activation

    @property
    def last_raw(self) -> int | None:
        """The undamped recommendation of the last decision (before windows, steps, clamps)."""
        return self._last_raw

    def raw_recommendation(self, obs: PoolObservation) -> int:
        """ceil(backlog / target), `workers` inside the tolerance band, 0 when inactive."""
        backlog, workers = obs.backlog, obs.workers
        if self.min_workers == 0 and backlog <= self.activation:
            return 0
        if workers > 0:
            capacity = workers * self.target_per_worker
            # |backlog/capacity - 1| <= tolerance, without a division that rounds 11/10 to
            # 1.1000000000000001 and pushes an exact band edge out of the band.
            if abs(backlog - capacity) <= self.tolerance * capacity * (1 + 1e-12):
                return workers
        exact = backlog / self.target_per_worker
        nearest = round(exact)
        if abs(exact - nearest) <= 1e-9 * exact:  # 3 / 0.1 is 30.000000000000004, not 31
            return int(nearest)
        return math.ceil(exact)

    def decide(self, now: float, obs: PoolObservation) -> int:
        if now < self._last_now:
            raise ValueError(f"now: went backwards ({now:g} < {self._last_now:g})")
        self._last_now = now
        workers = obs.workers
        raw = self.raw_recommendation(obs)
        self._last_raw = raw
        up_rec, down_rec = self._record(now, raw)
        if workers == 0 and self.min_workers == 0:
            desired = 1 if raw > 0 else 0  # KEDA activation: wake to one worker, at once
        else:
            desired = min(max(workers, up_rec), down_rec)
            if desired > workers + self.max_step:
                desired = workers + self.max_step
            elif desired < workers - self.max_step:
                desired = workers - self.max_step
            if now - self._last_change < self.cooldown:
                desired = workers
            limit = self.scale_down_max_utilization
            if desired < workers and limit < 1.0:
                floor = scale_down_floor(obs, limit)
                desired = workers if floor is None else max(desired, min(floor, workers))
        desired = _clamp(desired, self.min_workers, self.max_workers)
        if desired != workers:
            self._last_change = now
        return desired

    def _record(self, now: float, raw: int) -> tuple[int, int]:
        """Remember `raw`; return (min over the up window, max over the down window), HPA-style.

        As in HPA, a window of W seconds holds the recommendations made strictly after now - W,
        plus the current one.
        """
        lows, highs = self._lows, self._highs
        horizon = now - max(self.stabilization_up, self.stabilization_down)
        while lows and lows[0][0] <= horizon:
            lows.popleft()
        while highs and highs[0][0] <= horizon:
            highs.popleft()
        up_rec = down_rec = raw
        cutoff = now - self.stabilization_up
        for t, r in lows:
            if t > cutoff:
                up_rec = min(up_rec, r)
                break
        cutoff = now - self.stabilization_down
        for t, r in highs:
            if t > cutoff:
                down_rec = max(down_rec, r)
                break
        while lows and lows[-1][1] >= raw:
            lows.pop()
        lows.append((now, raw))
        while highs and highs[-1][1] <= raw:
            highs.pop()
        highs.append((now, raw))
        return up_rec, down_rec

    def reconfigure(self, **knobs: object) -> None:
        known("target autoscaler", knobs, self._KNOBS)
        self._apply({**self.knobs(), **knobs})

    def knobs(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self._KNOBS}

    def next_check(self, now: float, interval: float) -> float:
        return now + interval

    def describe(self) -> str:
        wake = f", wakes above {self.activation:g}" if self.min_workers == 0 else ""
        return (
            f"target: {self.target_per_worker:g} waiting/worker ±{self.tolerance:.0%}, "
            f"{self.min_workers}..{self.max_workers} workers, windows "
            f"up {self.stabilization_up:g}s down {self.stabilization_down:g}s, "
            f"step ≤{self.max_step}, cooldown {self.cooldown:g}s{wake}"
        ) + _describe_capacity(self.scale_down_max_utilization)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.knobs().items())
        return f"TargetTrackingAutoscaler({inner})"


def _describe_capacity(limit: float) -> str:
    return "" if limit >= 1.0 else f", down only while λ/((n-1)μ) < {limit:g}"


def _check_bounds(knobs: dict[str, object]) -> tuple[int, int]:
    low = integer("min_workers", knobs["min_workers"], minimum=0)
    high = integer("max_workers", knobs["max_workers"], minimum=1)
    if high < low:
        raise ValueError(f"max_workers: must be >= min_workers ({high} < {low})")
    return low, high


_REQUIRED = {
    "threshold": ("min_workers", "max_workers", "scale_up_threshold", "scale_down_threshold"),
    "target": ("min_workers", "max_workers", "target_per_worker"),
    "keda": ("min_workers", "max_workers", "target_per_worker"),
}


def make_autoscaler(kind: str, **knobs: object) -> Autoscaler:
    """Build an autoscaler by kind (see AUTOSCALER_KINDS), refusing unknown or missing knobs."""
    from queuelab.core.policies.keda import KedaAutoscaler  # keda.py builds on this module

    factories: dict[str, type[ThresholdAutoscaler | TargetTrackingAutoscaler | KedaAutoscaler]]
    factories = {"threshold": ThresholdAutoscaler, "target": TargetTrackingAutoscaler,
                 "keda": KedaAutoscaler}
    if kind not in factories:
        allowed = ", ".join(repr(k) for k in AUTOSCALER_KINDS)
        raise ValueError(f"kind: must be one of {allowed} (got {kind!r})")
    factory = factories[kind]
    known(f"{kind} autoscaler", knobs, factory._KNOBS)
    for name in _REQUIRED[kind]:
        if name not in knobs:
            raise ValueError(f"{name}: required by the {kind} autoscaler")
    return factory(**knobs)  # type: ignore[arg-type]
