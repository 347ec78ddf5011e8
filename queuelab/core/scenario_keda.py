"""Which scenarios have a KEDA ScaledObject, and the keda knobs that stand for one.

A ScaledObject can only say what the keda autoscaler does. A `target` pool is converted to
its nearest keda form (and every difference is named); a `threshold` pool is refused, with
the target-tracking settings that come closest, because the HPA has nothing like it: it
sizes the pool in proportion to the backlog, while the threshold rule moves one worker per
check whatever the backlog, with a dead band between two absolute backlogs.
"""

from __future__ import annotations

import math
from dataclasses import replace

from queuelab.core.scenario import PoolConfig, Scenario


class NoScaledObject(ValueError):
    """This scenario has no ScaledObject equivalent; the message says why and what is close."""


def threshold_alternative(pool: PoolConfig) -> str:
    """Why a threshold pool has no HPA form, and the target settings that come closest."""
    typical = max(1, min(max(pool.workers, pool.min_workers), pool.max_workers))
    middle = (pool.scale_up_threshold + pool.scale_down_threshold) / 2
    target = max(middle / typical, 0.001)
    period = max(1, round(pool.check_interval))
    return (
        "the threshold autoscaler has no Kubernetes HPA equivalent: the HPA sizes the pool in "
        "proportion to the backlog (ceil(backlog / target per worker)), while the threshold "
        "rule adds or removes one worker per check whatever the backlog, between two "
        "absolute backlog thresholds. Closest: autoscaler = \"keda\" (or \"target\") with "
        f"target_per_worker = {target:.3g} (the thresholds' midpoint {middle:g} over "
        f"{typical} worker(s)), scale_up_policies = \"Pods 1 per {period}s\", "
        f"scale_down_policies = \"Pods 1 per {period}s\", stabilization_down = 0, "
        f"min_workers = {pool.min_workers}, max_workers = {pool.max_workers}"
    )


def keda_form(s: Scenario) -> tuple[Scenario, list[str]]:
    """The scenario with a keda pool that a ScaledObject can express, and what changed.

    A keda scenario is returned as it is; a target one is converted (its step limit becomes a
    Pods policy per check interval in each direction, its cooldown is dropped, windows are
    rounded up to whole seconds); anything else raises NoScaledObject.
    """
    p = s.pool
    if p.strategy != "dynamic":
        raise NoScaledObject(
            f"pool.strategy is {p.strategy!r}: only a dynamic (autoscaled) pool has a "
            "ScaledObject; set strategy = \"dynamic\" and autoscaler = \"keda\""
        )
    if p.autoscaler == "keda":
        return s, []
    if p.autoscaler == "threshold":
        raise NoScaledObject(threshold_alternative(p))
    notes = []
    period = max(1, math.ceil(p.check_interval))
    up, down = float(math.ceil(p.stabilization_up)), float(math.ceil(p.stabilization_down))
    if (up, down) != (p.stabilization_up, p.stabilization_down):
        notes.append("stabilization windows rounded up to whole seconds")
    notes.append(f"max_step {p.max_step} became 'Pods {p.max_step} per {period}s' both ways "
                 "(the HPA limits changes per period, not per decision)")
    if p.cooldown > 0:
        notes.append(f"cooldown {p.cooldown:g}s dropped: the HPA has no hold after a change "
                     "(its stabilization windows do that job)")
    if p.min_workers == 0:
        notes.append("the wake-up from zero now waits for KEDA's poll (polling_interval) and "
                     "the return to zero for its cooldown_period")
    pool = replace(
        p, autoscaler="keda", stabilization_up=up, stabilization_down=down,
        scale_up_policies=f"Pods {p.max_step} per {period}s", scale_up_select="Max",
        scale_down_policies=f"Pods {p.max_step} per {period}s", scale_down_select="Max",
    )  # fmt: skip
    return replace(s, pool=pool), notes
