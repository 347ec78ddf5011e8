"""KEDA's ScaledObject over the Kubernetes HPA: what a queue worker Deployment does on a cluster.

Two control loops run on their own clocks, as on a cluster:

* every `polling_interval` seconds (KEDA's `pollingInterval`, 30 s by default) the KEDA
  operator asks each trigger whether it is active: metric > its activation value (strictly;
  with `min_workers` >= 1 and no idle count, KEDA treats the scaler as always active). At 0
  (or the idle count) an active trigger scales straight to max(min_workers, 1). Inactive
  while above zero, and `cooldown_period` seconds after the last active poll, it scales to
  the idle count when one is set, else to 0 - only when `min_workers` is 0 or an idle count is
  set: the cooldown governs the return to zero and nothing else.
* every `sync_period` seconds (the cluster's HPA sync period, 15 s by default) the HPA
  (`core.policies.hpa`) sizes the pool from 1 up: its minimum is max(min_workers, 1), it
  does nothing at 0, and each trigger is one external metric with an AverageValue target.

Both loops read the backlog QueueLab reports (ready tasks). When both fall at one instant
the KEDA poll goes first and the HPA sees its result. The engine asks `next_check` when to
call `decide` next, so each loop runs exactly on its own period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queuelab.core.checks import integer, known, number
from queuelab.core.policies.autoscale import PoolObservation
from queuelab.core.policies.hpa import (
    MAX_WINDOW,
    SELECT_POLICIES,
    HorizontalPodAutoscaler,
    ScalingRules,
    format_policies,
    parse_policies,
    replicas_for_metric,
)

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class QueueTrigger:
    """One scaler on the queue: its per-replica target and its activation value."""

    target: float
    activation: float = 0.0


def _slot_after(now: float, period: float) -> float:
    """The first multiple of `period` strictly after `now` (with float slack)."""
    return (math.floor(now / period + _EPS) + 1) * period


def _slot_at(now: float, period: float) -> float:
    """The last multiple of `period` at or before `now` (with float slack)."""
    return math.floor(now / period + _EPS) * period


class KedaAutoscaler:
    """A ScaledObject's scaling, exactly as KEDA and the HPA do it (see the module docstring)."""

    kind = "keda"
    _KNOBS = (
        "min_workers", "max_workers", "idle_workers", "target_per_worker", "activation",
        "tolerance", "stabilization_up", "stabilization_down", "scale_up_policies",
        "scale_up_select", "scale_down_policies", "scale_down_select", "polling_interval",
        "cooldown_period", "sync_period",
    )  # fmt: skip

    __slots__ = (
        "_hpa", "_last_active", "_last_now", "_next_poll", "_next_sync", "activation",
        "cooldown_period", "extra_triggers", "idle_workers", "max_workers", "min_workers",
        "polling_interval", "scale_down_policies", "scale_down_select", "scale_up_policies",
        "scale_up_select", "stabilization_down", "stabilization_up", "sync_period",
        "target_per_worker", "tolerance",
    )  # fmt: skip

    def __init__(
        self,
        min_workers: int,
        max_workers: int,
        target_per_worker: float,
        activation: float = 0.0,
        tolerance: float = 0.1,
        stabilization_up: float = 0.0,
        stabilization_down: float = 300.0,
        scale_up_policies: str = "Percent 100 per 15s, Pods 4 per 15s",
        scale_up_select: str = "Max",
        scale_down_policies: str = "Percent 100 per 15s",
        scale_down_select: str = "Max",
        polling_interval: float = 30.0,
        cooldown_period: float = 300.0,
        idle_workers: int = -1,
        sync_period: float = 15.0,
        extra_triggers: tuple[QueueTrigger, ...] = (),
    ) -> None:
        self._hpa: HorizontalPodAutoscaler | None = None
        self.extra_triggers = extra_triggers
        self._apply({
            "min_workers": min_workers, "max_workers": max_workers,
            "target_per_worker": target_per_worker, "activation": activation,
            "tolerance": tolerance, "stabilization_up": stabilization_up,
            "stabilization_down": stabilization_down, "scale_up_policies": scale_up_policies,
            "scale_up_select": scale_up_select, "scale_down_policies": scale_down_policies,
            "scale_down_select": scale_down_select, "polling_interval": polling_interval,
            "cooldown_period": cooldown_period, "idle_workers": idle_workers,
            "sync_period": sync_period,
        })  # fmt: skip
        self._next_poll = self.polling_interval
        self._next_sync = self.sync_period
        self._last_active = -math.inf
        self._last_now = -math.inf

    # -- knobs ------------------------------------------------------------------------------

    def _apply(self, k: dict[str, object]) -> None:
        low = integer("min_workers", k["min_workers"], minimum=0)
        high = integer("max_workers", k["max_workers"], minimum=1)
        if high < low:
            raise ValueError(f"max_workers: must be >= min_workers ({high} < {low})")
        idle = integer("idle_workers", k["idle_workers"], minimum=-1)
        if idle >= 0 and idle >= max(low, 1):
            raise ValueError(f"idle_workers: must be < min_workers, or -1 for none "
                             f"({idle} >= {max(low, 1)})")
        target = number("target_per_worker", k["target_per_worker"], above=0.0)
        activation = number("activation", k["activation"], minimum=0.0)
        tolerance = number("tolerance", k["tolerance"], minimum=0.0, maximum=1.0)
        rules = [self._rules(k, "up"), self._rules(k, "down")]
        polling = number("polling_interval", k["polling_interval"], above=0.0)
        cooldown = number("cooldown_period", k["cooldown_period"], minimum=0.0)
        sync = number("sync_period", k["sync_period"], above=0.0)
        self.min_workers, self.max_workers, self.idle_workers = low, high, idle
        self.target_per_worker, self.activation, self.tolerance = target, activation, tolerance
        self.stabilization_up = float(rules[0].stabilization_window)
        self.stabilization_down = float(rules[1].stabilization_window)
        self.scale_up_policies = format_policies(rules[0].policies)
        self.scale_down_policies = format_policies(rules[1].policies)
        self.scale_up_select = rules[0].select_policy
        self.scale_down_select = rules[1].select_policy
        self.polling_interval, self.cooldown_period, self.sync_period = polling, cooldown, sync
        hpa_min = max(low, 1)
        if self._hpa is None:
            self._hpa = HorizontalPodAutoscaler(hpa_min, high, rules[0], rules[1], tolerance)
        else:  # the HPA object is updated in place: its history stays, as on a cluster
            hpa = self._hpa
            hpa.min_replicas, hpa.max_replicas, hpa.tolerance = hpa_min, high, tolerance
            hpa.scale_up, hpa.scale_down = rules[0], rules[1]

    @staticmethod
    def _rules(k: dict[str, object], side: str) -> ScalingRules:
        window_key = f"stabilization_{side}"
        window = number(window_key, k[window_key], minimum=0.0, maximum=MAX_WINDOW)
        if not window.is_integer():
            raise ValueError(f"{window_key}: must be whole seconds (got {window:g})")
        select = k[f"scale_{side}_select"]
        if select not in SELECT_POLICIES:
            raise ValueError(f"scale_{side}_select: must be one of Max, Min, Disabled "
                             f"(got {select!r})")
        text = k[f"scale_{side}_policies"]
        if not isinstance(text, str):
            raise ValueError(f"scale_{side}_policies: must be text (got {text!r})")
        try:
            return ScalingRules(int(window), parse_policies(text), str(select))
        except ValueError as exc:
            raise ValueError(f"scale_{side}_policies: {exc}") from None

    @property
    def triggers(self) -> tuple[QueueTrigger, ...]:
        return (QueueTrigger(self.target_per_worker, self.activation), *self.extra_triggers)

    def reconfigure(self, **knobs: object) -> None:
        known("keda autoscaler", knobs, self._KNOBS)
        self._apply({**self.knobs(), **knobs})

    def knobs(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self._KNOBS}

    # -- the two loops ----------------------------------------------------------------------

    def next_check(self, now: float, interval: float) -> float:
        """When a loop is next due: the HPA's sync slots and KEDA's poll slots, from time 0."""
        return min(_slot_after(now, self.sync_period), _slot_after(now, self.polling_interval))

    def decide(self, now: float, obs: PoolObservation) -> int:
        if now < self._last_now:
            raise ValueError(f"now: went backwards ({now:g} < {self._last_now:g})")
        self._last_now = now
        replicas = obs.workers
        # Each loop runs at its slot's time, even when the engine calls a little late (a live
        # timer): the HPA's period arithmetic then does not depend on wake-up jitter.
        if now >= self._next_poll - _EPS:
            self._next_poll = _slot_after(now, self.polling_interval)
            replicas = self._poll(_slot_at(now, self.polling_interval), replicas, obs.backlog)
        if now >= self._next_sync - _EPS:
            self._next_sync = _slot_after(now, self.sync_period)
            replicas = self._sync(_slot_at(now, self.sync_period), replicas, obs.backlog)
        return replicas

    def _active(self, metric: int) -> bool:
        if self.min_workers >= 1 and self.idle_workers < 0:
            return True  # KEDA: with a minimum of one or more the scaler is always active
        return any(metric > t.activation for t in self.triggers)

    def _poll(self, now: float, replicas: int, metric: int) -> int:
        """KEDA's scale executor at one polling interval."""
        idle = self.idle_workers
        floor = max(idle, 0)
        if self._active(metric):
            self._last_active = now
            if replicas <= floor:
                return max(self.min_workers, 1)  # activation: straight to the minimum (or 1)
            return max(replicas, self.min_workers)
        # inactive (possible only with min_workers 0 or an idle count): after the cooldown
        if replicas > floor and now - self._last_active > self.cooldown_period + _EPS:
            return floor
        return replicas

    def _sync(self, now: float, replicas: int, metric: int) -> int:
        """The HPA's reconcile at one sync period."""
        hpa = self._hpa
        assert hpa is not None
        proposals = [replicas_for_metric(metric, t.target, replicas, self.tolerance)
                     for t in self.triggers]
        return hpa.sync(now, replicas, proposals)

    def describe(self) -> str:
        zero = (f", 0 <-> 1 above {self.activation:g} (cooldown {self.cooldown_period:g}s)"
                if self.min_workers == 0 or self.idle_workers >= 0 else "")
        return (
            f"keda: {self.target_per_worker:g} waiting/worker ±{self.tolerance:.0%}, "
            f"{self.min_workers}..{self.max_workers} workers, poll {self.polling_interval:g}s, "
            f"HPA sync {self.sync_period:g}s, up [{self.scale_up_policies}; "
            f"{self.scale_up_select}; window {self.stabilization_up:g}s], down "
            f"[{self.scale_down_policies}; {self.scale_down_select}; window "
            f"{self.stabilization_down:g}s]{zero}"
        )

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.knobs().items())
        return f"KedaAutoscaler({inner})"
