"""The scenario's knobs turned into policy objects, the same way for both engines.

The policies in `core.policies` know nothing of scenarios; this module is the one place
that reads the [pool], [retry] and [breaker] sections and builds or reconfigures them, so
a knob means the same thing simulated and live.
"""

from __future__ import annotations

from queuelab.core.clients import Callers
from queuelab.core.policies import Autoscaler, CircuitBreaker, RetryPolicy, make_autoscaler
from queuelab.core.scenario import Scenario


def autoscaler_knobs(s: Scenario) -> dict[str, float | int | str]:
    """The pool knobs the scenario's autoscaler kind takes."""
    p = s.pool
    common: dict[str, float | int | str] = {"min_workers": p.min_workers,
                                            "max_workers": p.max_workers}
    if p.autoscaler == "threshold":
        return common | {"scale_up_threshold": p.scale_up_threshold,
                         "scale_down_threshold": p.scale_down_threshold,
                         "scale_down_max_utilization": p.scale_down_max_utilization}
    if p.autoscaler == "keda":
        return common | {
            "target_per_worker": p.target_per_worker, "activation": p.activation,
            "tolerance": p.tolerance, "stabilization_up": p.stabilization_up,
            "stabilization_down": p.stabilization_down,
            "scale_up_policies": p.scale_up_policies, "scale_up_select": p.scale_up_select,
            "scale_down_policies": p.scale_down_policies,
            "scale_down_select": p.scale_down_select, "polling_interval": p.polling_interval,
            "cooldown_period": p.cooldown_period, "idle_workers": p.idle_workers,
            "sync_period": p.check_interval,
        }
    return common | {
        "target_per_worker": p.target_per_worker, "tolerance": p.tolerance,
        "stabilization_up": p.stabilization_up, "stabilization_down": p.stabilization_down,
        "max_step": p.max_step, "cooldown": p.cooldown, "activation": p.activation,
        "scale_down_max_utilization": p.scale_down_max_utilization,
    }


def autoscaler_for(s: Scenario) -> Autoscaler:
    return make_autoscaler(s.pool.autoscaler, **autoscaler_knobs(s))


def retry_knobs(s: Scenario) -> dict[str, float | int | str]:
    r = s.retry
    return {"max_attempts": r.max_attempts, "base_delay": r.base_delay,
            "multiplier": r.multiplier, "max_delay": r.max_delay, "jitter": r.jitter}


def retry_policy_for(s: Scenario) -> RetryPolicy:
    return RetryPolicy(**retry_knobs(s))


def breaker_for(s: Scenario, current: CircuitBreaker | None = None) -> CircuitBreaker | None:
    """The breaker the scenario asks for: None when off, `current` reconfigured when on.

    Keeping the running breaker (rather than a new one) keeps its state through a change.
    """
    b = s.breaker
    if not b.enabled:
        return None
    if current is None:
        return CircuitBreaker(b.failure_threshold, b.open_for, b.half_open_probes)
    current.reconfigure(failure_threshold=b.failure_threshold, open_for=b.open_for,
                        half_open_probes=b.half_open_probes)
    return current


def clients_knobs(s: Scenario) -> dict[str, object]:
    c = s.clients
    return {"timeout": c.timeout, "retries": c.retries, "retry_budget": c.retry_budget,
            "drop_expired": c.drop_expired}


def callers_for(s: Scenario) -> Callers:
    c = s.clients
    return Callers(c.timeout, c.retries, c.retry_budget, c.drop_expired)


def describe_policies(s: Scenario) -> list[str]:
    """One line per policy the scenario builds (`queuelab scenario check` prints them)."""
    lines = [retry_policy_for(s).describe()]
    if s.pool.strategy == "dynamic":
        lines.append(f"autoscaler {autoscaler_for(s).describe()}")
    breaker = breaker_for(s)
    if breaker is not None:
        lines.append(breaker.describe())
    if s.clients.timeout > 0:
        lines.append(callers_for(s).describe())
    return lines
