"""Pure decision objects both engines share: autoscaling, retry backoff, circuit breaking, limits.

They are handed the time and what the engine observed, and answer; they never read a clock,
sleep, touch a queue or do I/O. That is what lets a tuning found in the simulator run live
unchanged. Every one of them takes `reconfigure(**knobs)` for changes made while a run goes on,
and `describe()` for a one-line summary.
"""

from __future__ import annotations

from queuelab.core.policies.autoscale import (
    AUTOSCALER_KINDS,
    Autoscaler,
    PoolObservation,
    TargetTrackingAutoscaler,
    ThresholdAutoscaler,
    make_autoscaler,
    scale_down_floor,
)
from queuelab.core.policies.backoff import JITTERS, RETRY_MODES, RetryPolicy
from queuelab.core.policies.breaker import BreakerState, CircuitBreaker
from queuelab.core.policies.concurrency import ConcurrencyLimit
from queuelab.core.policies.keda import KedaAutoscaler, QueueTrigger

__all__ = [
    "AUTOSCALER_KINDS",
    "JITTERS",
    "RETRY_MODES",
    "Autoscaler",
    "BreakerState",
    "CircuitBreaker",
    "ConcurrencyLimit",
    "KedaAutoscaler",
    "PoolObservation",
    "QueueTrigger",
    "RetryPolicy",
    "TargetTrackingAutoscaler",
    "ThresholdAutoscaler",
    "make_autoscaler",
    "scale_down_floor",
]
