"""The Kubernetes Horizontal Pod Autoscaler's decision, rule for rule, on a queue-length metric.

What Kubernetes documents (the HPA page's "Algorithm details" and "Configurable scaling
behavior") and its controller does at each sync period, in the same order and arithmetic:

1. per metric with an `AverageValue` target (what KEDA's queue triggers give the HPA):
   usage ratio = metric / (target x current); inside [1 - tolerance, 1 + tolerance] the
   proposal is `current`, otherwise ceil(metric / target). Quantities are milli-units and the
   ratio is an IEEE double, as in the controller, so band edges round the way Kubernetes does.
   Several metrics: the largest proposal wins.
2. stabilization: the proposal is recorded; the recommendation is `current` raised to the
   lowest proposal of the scale-up window and lowered to the highest of the scale-down window
   (windows hold proposals made strictly after now - W, and the current one).
3. rate limits: the `policies` of the direction, each allowing a change relative to the
   replicas at the start of its `periodSeconds` (current minus what the HPA itself added, plus
   what it removed, strictly within the period); `selectPolicy` Max takes the policy allowing
   the most change, Min the least, Disabled none. Percent rounds the allowed size up when
   growing and down when shrinking (ceil(start x (1 + p/100)), int(start x (1 - p/100))).
4. bounds: never above maxReplicas nor below minReplicas; a current count outside them is
   brought back at once without consulting the metrics. At 0 replicas with minReplicas > 0
   the HPA does nothing (Kubernetes' "scaling disabled"; KEDA owns 0 <-> 1).

Defaults when a direction is not given are Kubernetes' own (`DEFAULT_SCALE_UP`,
`DEFAULT_SCALE_DOWN`). Pure: the caller passes the time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

POLICY_TYPES = ("Pods", "Percent")
SELECT_POLICIES = ("Max", "Min", "Disabled")
MAX_WINDOW = 3600  # stabilizationWindowSeconds: 0..3600 (the API refuses more)
MAX_PERIOD = 1800  # periodSeconds: 1..1800
DEFAULT_TOLERANCE = 0.1  # kube-controller-manager --horizontal-pod-autoscaler-tolerance
SYNC_PERIOD = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """One entry of `behavior.scaleUp|scaleDown.policies`: type, value, periodSeconds."""

    type: str
    value: int
    period_seconds: int

    def __post_init__(self) -> None:
        if self.type not in POLICY_TYPES:
            raise ValueError(f"type: must be Pods or Percent (got {self.type!r})")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise ValueError(f"value: must be a whole number > 0 (got {self.value!r})")
        p = self.period_seconds
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= MAX_PERIOD:
            raise ValueError(
                f"periodSeconds: must be a whole number in 1..{MAX_PERIOD} (got {p!r})"
            )

    def __str__(self) -> str:
        return f"{self.type} {self.value} per {self.period_seconds}s"


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """`behavior.scaleUp` or `behavior.scaleDown`: window, policies and how one is chosen."""

    stabilization_window: int
    policies: tuple[ScalingPolicy, ...]
    select_policy: str = "Max"

    def __post_init__(self) -> None:
        w = self.stabilization_window
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= MAX_WINDOW:
            raise ValueError(
                f"stabilizationWindowSeconds: must be a whole number in 0..{MAX_WINDOW} (got {w!r})"
            )
        if self.select_policy not in SELECT_POLICIES:
            raise ValueError(
                f"selectPolicy: must be Max, Min or Disabled (got {self.select_policy!r})"
            )
        if not self.policies and self.select_policy != "Disabled":
            raise ValueError("policies: at least one policy is needed unless selectPolicy is "
                             "Disabled")

    @property
    def longest_period(self) -> int:
        return max((p.period_seconds for p in self.policies), default=0)


DEFAULT_SCALE_UP = ScalingRules(
    0, (ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15)), "Max"
)
DEFAULT_SCALE_DOWN = ScalingRules(300, (ScalingPolicy("Percent", 100, 15),), "Max")

_POLICY = re.compile(r"^\s*(Pods|Percent)\s+(\d+)\s+per\s+(\d+)\s*s\s*$")


def parse_policies(text: str) -> tuple[ScalingPolicy, ...]:
    """"Percent 100 per 15s, Pods 4 per 15s" -> policies; ValueError naming the bad item."""
    if not text.strip():
        return ()
    out = []
    for i, item in enumerate(text.split(","), 1):
        m = _POLICY.match(item)
        if m is None:
            raise ValueError(f"policy {i} ({item.strip()!r}): write it as 'Pods N per Ss' or "
                             "'Percent N per Ss', several separated by commas")
        try:
            out.append(ScalingPolicy(m.group(1), int(m.group(2)), int(m.group(3))))
        except ValueError as exc:
            raise ValueError(f"policy {i} ({item.strip()!r}): {exc}") from None
    if len(out) > 10:
        raise ValueError("at most 10 policies per direction")
    return tuple(out)


def format_policies(policies: tuple[ScalingPolicy, ...]) -> str:
    return ", ".join(str(p) for p in policies)


def milli(value: float) -> int:
    """A Kubernetes quantity in milli-units, rounded up as Quantity.MilliValue() does."""
    scaled = value * 1000
    nearest = round(scaled)
    return nearest if abs(scaled - nearest) <= 1e-6 else math.ceil(scaled)


def replicas_for_metric(metric: float, target: float, current: int, tolerance: float) -> int:
    """The HPA's proposal for one external metric with an AverageValue target of `target`."""
    usage, per_pod = milli(metric), milli(target)
    if current > 0:
        ratio = float(usage) / (float(per_pod) * float(current))
        if 1.0 - tolerance <= ratio <= 1.0 + tolerance:
            return current
    return math.ceil(float(usage) / float(per_pod))


class HorizontalPodAutoscaler:
    """One HPA object's controller state: past proposals and its own past scale events."""

    __slots__ = ("_downs", "_recommendations", "_ups", "max_replicas", "min_replicas",
                 "scale_down", "scale_up", "tolerance")

    def __init__(
        self,
        min_replicas: int,
        max_replicas: int,
        scale_up: ScalingRules = DEFAULT_SCALE_UP,
        scale_down: ScalingRules = DEFAULT_SCALE_DOWN,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.scale_up, self.scale_down, self.tolerance = scale_up, scale_down, tolerance
        self._recommendations: list[tuple[float, int]] | None = None  # None: never synced
        self._ups: list[tuple[float, int]] = []  # (time, replicas added) by this HPA
        self._downs: list[tuple[float, int]] = []  # (time, replicas removed)

    def sync(self, now: float, current: int, proposals: list[int]) -> int:
        """One reconcile: the replica count the HPA sets, given per-metric proposals."""
        if current == 0 and self.min_replicas != 0:
            return 0  # scaling disabled at zero: KEDA activates
        if current > self.max_replicas:
            desired = self.max_replicas
        elif current < self.min_replicas:
            desired = self.min_replicas
        else:
            desired = self._normalize(now, current, max(proposals, default=current))
        if desired != current:
            self._store_event(now, current, desired)
        return desired

    def _normalize(self, now: float, current: int, proposal: int) -> int:
        if self._recommendations is None:
            # A new HPA counts today's size as a recent recommendation, so it does not shrink
            # the target at its first sync (the controller's scale-down window initialization).
            self._recommendations = [(now, current)] if self.scale_down.stabilization_window else []
        stabilized = self._stabilize(now, current, proposal)
        return self._rate_limit(now, current, stabilized)

    def _stabilize(self, now: float, current: int, proposal: int) -> int:
        recs = self._recommendations
        assert recs is not None
        up_cut = now - self.scale_up.stabilization_window
        down_cut = now - self.scale_down.stabilization_window
        up = down = proposal
        for t, r in recs:
            if t > up_cut:
                up = min(up, r)
            if t > down_cut:
                down = max(down, r)
        # forget what neither window can reach again, then remember this proposal
        recs[:] = [(t, r) for t, r in recs if t >= up_cut or t >= down_cut]
        recs.append((now, proposal))
        return min(max(current, up), down)

    def _rate_limit(self, now: float, current: int, desired: int) -> int:
        if desired > current:
            limit = max(self._up_limit(now, current), current)
            return min(desired, min(self.max_replicas, limit))
        if desired < current:
            limit = min(self._down_limit(now, current), current)
            return max(desired, max(self.min_replicas, limit))
        return desired

    def _period_start(self, now: float, period: int, current: int) -> int:
        cut = now - period
        added = sum(n for t, n in self._ups if t > cut)
        removed = sum(n for t, n in self._downs if t > cut)
        return current - added + removed

    def _up_limit(self, now: float, current: int) -> int:
        rules = self.scale_up
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, p.period_seconds, current)
            if p.type == "Pods":
                proposals.append(start + p.value)
            else:
                proposals.append(math.ceil(float(start) * (1 + float(p.value) / 100)))
        return min(proposals) if rules.select_policy == "Min" else max(proposals)

    def _down_limit(self, now: float, current: int) -> int:
        rules = self.scale_down
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, p.period_seconds, current)
            if p.type == "Pods":
                proposals.append(start - p.value)
            else:
                proposals.append(int(float(start) * (1 - float(p.value) / 100)))
        return max(proposals) if rules.select_policy == "Min" else min(proposals)

    def _store_event(self, now: float, before: int, after: int) -> None:
        keep = max(self.scale_up.longest_period, self.scale_down.longest_period)
        self._ups[:] = [(t, n) for t, n in self._ups if t > now - keep]
        self._downs[:] = [(t, n) for t, n in self._downs if t > now - keep]
        if after > before:
            self._ups.append((now, after - before))
        else:
            self._downs.append((now, before - after))
