"""The keda autoscaler against the worked examples of the Kubernetes HPA page and KEDA's docs.

Each test names the documented example it checks. HPA: "Algorithm details" (ratio, the 0.1
tolerance), "Stabilization window", "Scaling policies" (80 replicas, Pods 4 / Percent 10 per
60 s), "Example: limit scale down rate" (selectPolicy Min), "Example: disable scale down",
"Default Behavior". KEDA: "Activating and Scaling thresholds", ScaledObject `cooldownPeriod`,
`idleReplicaCount`, `minReplicaCount`, and several triggers (the HPA takes the largest).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.policies import KedaAutoscaler, PoolObservation, QueueTrigger, make_autoscaler
from queuelab.core.policies.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HorizontalPodAutoscaler,
    ScalingPolicy,
    ScalingRules,
    parse_policies,
    replicas_for_metric,
)


def obs(backlog: int, workers: int) -> PoolObservation:
    return PoolObservation(backlog=backlog, workers=workers, busy=0)


def hpa(**rules: ScalingRules | int) -> HorizontalPodAutoscaler:
    up = rules.get("up", ScalingRules(0, DEFAULT_SCALE_UP.policies))
    down = rules.get("down", ScalingRules(0, DEFAULT_SCALE_DOWN.policies))
    return HorizontalPodAutoscaler(int(rules.get("low", 1)), int(rules.get("high", 100)),
                                   up, down)  # type: ignore[arg-type]


# -- the per-metric proposal (HPA "Algorithm details") ------------------------------------


def test_ratio_doubles_and_halves() -> None:
    # "if the current metric value is 200m, and the desired value is 100m, the number of
    # replicas will be doubled ... If the current value is instead 50m, you'll halve".
    assert replicas_for_metric(2000, 100, 10, 0.1) == 20
    assert replicas_for_metric(500, 100, 10, 0.1) == 5


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(100, 10), (109, 10), (110, 10), (111, 12), (90, 10), (89, 9), (0, 0)],
)
def test_tolerance_band(metric: int, expected: int) -> None:
    # "The control plane skips any scaling action if the ratio is sufficiently close to 1.0
    # (within a globally-configurable tolerance, 0.1 by default)": 10 replicas x 10 per pod.
    assert replicas_for_metric(metric, 10, 10, 0.1) == expected


def test_tolerance_is_configurable() -> None:
    assert replicas_for_metric(105, 10, 10, 0.0) == 11
    assert replicas_for_metric(140, 10, 10, 0.5) == 10
    assert replicas_for_metric(151, 10, 10, 0.5) == 16


def test_fractional_targets_are_milli_quantities() -> None:
    # KEDA's rabbitmq example target "100.50": 201 messages are exactly 2 replicas' worth
    assert replicas_for_metric(201, 100.5, 1, 0.1) == 2
    assert replicas_for_metric(202, 100.5, 1, 0.1) == 3


# -- stabilization ------------------------------------------------------------------------


def test_scale_down_held_by_the_stabilization_window() -> None:
    # "all desired states from the past 5 minutes will be considered": a spike's proposal
    # keeps the pool up until it is 300 s old, then the pool falls at once (100 % per 15 s).
    h = hpa(down=ScalingRules(300, DEFAULT_SCALE_DOWN.policies))
    assert h.sync(0.0, 10, [10]) == 10
    assert h.sync(15.0, 10, [20]) == 20
    for t in range(30, 315, 15):
        assert h.sync(float(t), 20, [2]) == 20, t
    assert h.sync(315.0, 20, [2]) == 2  # t=15's 20 is no longer strictly after 315 - 300


def test_new_hpa_does_not_shrink_at_its_first_sync() -> None:
    h = hpa(down=ScalingRules(60, DEFAULT_SCALE_DOWN.policies))
    assert h.sync(15.0, 8, [1]) == 8  # today's size counts as a recent recommendation
    assert h.sync(75.0, 8, [1]) == 1


def test_scale_up_window_takes_the_lowest_recent_proposal() -> None:
    h = hpa(up=ScalingRules(60, DEFAULT_SCALE_UP.policies))
    assert h.sync(0.0, 2, [2]) == 2
    for t in (15.0, 30.0, 45.0):
        assert h.sync(t, 2, [8]) == 2
    assert h.sync(60.0, 2, [8]) == 6  # 2's proposal has left the window: +4 pods


# -- policies and selectPolicy ------------------------------------------------------------


DOCS_DOWN = (ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60))


def test_percent_vs_pods_with_select_max() -> None:
    # "if there are 80 replicas and the target has to be scaled down to 10 replicas then
    # during the first step 8 replicas will be reduced. In the next iteration when the number
    # of replicas is 72, 10% of the pods is 7.2 but the number is rounded up to 8."
    h = hpa(low=1, down=ScalingRules(0, DOCS_DOWN, "Max"))
    assert h.sync(0.0, 80, [10]) == 72
    for t in (15.0, 30.0, 45.0):  # the period (60 s) still holds the 8 removed at t=0
        assert h.sync(t, 72, [10]) == 72
    assert h.sync(60.0, 72, [10]) == 64
    # "When the number of replicas falls below 40 the first policy (Pods) is applied"
    h = hpa(low=1, down=ScalingRules(0, DOCS_DOWN, "Max"))
    assert h.sync(0.0, 30, [10]) == 26  # Pods allows 26, Percent int(27.0) = 27: most change


def test_percent_vs_pods_with_select_min() -> None:
    # "no more than 5 Pods are removed per minute ... selectPolicy Min"
    policies = (ScalingPolicy("Percent", 10, 60), ScalingPolicy("Pods", 5, 60))
    h = hpa(low=1, down=ScalingRules(0, policies, "Min"))
    assert h.sync(0.0, 80, [10]) == 75  # Percent would allow 72, Pods 75: the least change
    h = hpa(low=1, down=ScalingRules(0, policies, "Min"))
    assert h.sync(0.0, 30, [10]) == 27  # Percent 27, Pods 25: the least change


def test_default_scale_up_doubles_or_adds_four_per_15s() -> None:
    # "4 pods or a 100% of the currently running replicas will be added every 15 seconds"
    h = hpa(high=1000)
    assert h.sync(0.0, 1, [100]) == 5  # max(ceil(1 x 2), 1 + 4)
    assert h.sync(15.0, 5, [100]) == 10  # the t=0 event is not strictly inside (0, 15]
    assert h.sync(30.0, 10, [100]) == 20
    assert h.sync(45.0, 20, [100]) == 40
    h = hpa(high=1000)
    assert h.sync(0.0, 1, [100]) == 5
    assert h.sync(10.0, 5, [100]) == 5  # a sync 10 s later: the period started at 1


def test_scale_up_select_min_and_disabled() -> None:
    min_up = ScalingRules(0, DEFAULT_SCALE_UP.policies, "Min")
    assert hpa(up=min_up).sync(0.0, 10, [100]) == 14  # +4 pods is less than +100 %
    off = ScalingRules(0, (), "Disabled")
    assert hpa(up=off).sync(0.0, 10, [100]) == 10


def test_disabled_scale_down() -> None:
    # "The selectPolicy value of Disabled turns off scaling the given direction."
    h = hpa(down=ScalingRules(0, (), "Disabled"))
    assert h.sync(0.0, 10, [1]) == 10
    assert h.sync(15.0, 10, [30]) == 20  # scaling up still works


def test_scale_up_limit_counts_the_removals_of_the_period() -> None:
    h = hpa(up=ScalingRules(0, (ScalingPolicy("Pods", 2, 60),)),
            down=ScalingRules(0, (ScalingPolicy("Pods", 3, 60),)))
    assert h.sync(0.0, 10, [1]) == 7
    assert h.sync(15.0, 7, [100]) == 12  # the period started at 10: 10 + 2


def test_bounds_and_disabled_at_zero() -> None:
    h = hpa(low=2, high=8)
    assert h.sync(0.0, 12, [12]) == 8
    assert h.sync(15.0, 1, [1]) == 2
    assert h.sync(30.0, 0, [50]) == 0  # "scaling disabled" at 0 with minReplicas > 0


def test_policy_text() -> None:
    assert parse_policies("Percent 100 per 15s, Pods 4 per 15s") == DEFAULT_SCALE_UP.policies
    for bad, message in [
        ("Pods 4", "policy 1"),
        ("Pods 0 per 15s", "value: must be a whole number > 0"),
        ("Percent 10 per 1801s", "periodSeconds: must be a whole number in 1..1800"),
        ("Nodes 1 per 15s", "policy 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_policies(bad)


# -- KEDA's layer -------------------------------------------------------------------------


def keda(**knobs: object) -> KedaAutoscaler:
    base: dict[str, object] = {"min_workers": 0, "max_workers": 100, "target_per_worker": 10}
    base.update(knobs)
    scaler = make_autoscaler("keda", **base)
    assert isinstance(scaler, KedaAutoscaler)
    return scaler


def test_two_clocks_sync_15_and_poll_30() -> None:
    scaler = keda(polling_interval=10.0)
    times, now = [], 0.0
    for _ in range(7):
        now = scaler.next_check(now, 999.0)
        times.append(now)
    assert times == [10.0, 15.0, 20.0, 30.0, 40.0, 45.0, 50.0]


def test_activation_only_above_the_activation_value() -> None:
    # "activationThreshold: 0 will only activate when the metric value is 1 or more"
    scaler = keda()
    assert scaler.decide(15.0, obs(0, 0)) == 0  # the HPA does nothing at 0
    assert scaler.decide(15.0 + 15.0, obs(0, 0)) == 0  # poll at 30: inactive
    assert scaler.decide(45.0, obs(1, 0)) == 0  # a backlog, but no poll yet: still 0
    assert scaler.decide(60.0, obs(1, 0)) == 1  # poll: 1 > 0, active: to one replica


def test_activation_has_priority_over_the_scaling_value() -> None:
    # "threshold: 10 and activationThreshold: 50, in case of 40 messages the scaler is not
    # active and it'll be scaled to zero even the HPA requires 4 instances."
    scaler = keda(activation=50.0, cooldown_period=0.0, stabilization_down=0.0)
    assert scaler.decide(30.0, obs(40, 0)) == 0
    assert scaler.decide(60.0, obs(40, 4)) == 0


def test_cooldown_applies_only_to_the_return_to_zero() -> None:
    scaler = keda(cooldown_period=300.0, stabilization_down=0.0)
    assert scaler.decide(30.0, obs(200, 0)) == 5  # poll wakes it (1), the HPA adds 4
    assert scaler.decide(45.0, obs(0, 5)) == 1  # the HPA shrinks at once: no cooldown for it
    for t in range(60, 331, 15):  # inactive since t=30: held at one until the cooldown ends
        assert scaler.decide(float(t), obs(0, 1)) == 1, t
    assert scaler.decide(360.0, obs(0, 1)) == 0  # 360 - 30 > 300 at a poll


def test_min_replicas_one_makes_the_scaler_always_active() -> None:
    # "If the minimum replicas is >= 1, the scaler is always active and the activation value
    # will be ignored."
    scaler = keda(min_workers=1, activation=1000.0, stabilization_down=0.0)
    for t in range(15, 601, 15):
        assert scaler.decide(float(t), obs(0, 1)) == 1


def test_idle_replica_count() -> None:
    # "If there's no activity on triggers the target resource is scaled down to
    # idleReplicaCount (0), once there is an activity the target resource is immediately
    # scaled to minReplicaCount (10)"
    scaler = keda(min_workers=10, idle_workers=0, cooldown_period=60.0)
    assert scaler.decide(30.0, obs(5, 0)) == 10
    assert scaler.decide(60.0, obs(0, 10)) == 10  # inactive, cooling down
    assert scaler.decide(90.0, obs(0, 10)) == 10
    assert scaler.decide(120.0, obs(0, 10)) == 0  # 120 - 30 > 60
    with pytest.raises(ValueError, match=r"^idle_workers: must be < min_workers"):
        keda(min_workers=2, idle_workers=2)


def test_several_triggers_the_largest_recommendation_wins() -> None:
    # "If multiple metrics are specified ... the largest of the desired replica counts is
    # chosen"; any active trigger activates.
    scaler = KedaAutoscaler(0, 100, target_per_worker=50.0, activation=100.0,
                            extra_triggers=(QueueTrigger(20.0, 30.0),))
    assert scaler.decide(30.0, obs(40, 0)) == 2  # the second trigger is active; the HPA: 1 -> 2
    assert scaler.decide(45.0, obs(400, 2)) == 6  # 400 / 20 = 20 wanted, +4 per 15 s


def test_reconfigure_keeps_history_and_checks_first() -> None:
    scaler = keda(min_workers=1)
    scaler.decide(15.0, obs(100, 1))
    with pytest.raises(ValueError, match=r"^scale_down_policies: policy 1"):
        scaler.reconfigure(scale_down_policies="Pods four per 15s", tolerance=0.2)
    assert scaler.tolerance == 0.1
    scaler.reconfigure(scale_down_select="Disabled", stabilization_down=0)
    assert scaler.decide(30.0, obs(0, 5)) == 5
    assert "Disabled" in scaler.describe()
    assert "\n" not in scaler.describe()


@settings(max_examples=100, deadline=None)
@given(
    low=st.integers(0, 3),
    extra=st.integers(0, 30),
    activation=st.sampled_from([0.0, 5.0]),
    steps=st.lists(st.tuples(st.integers(0, 500), st.none() | st.integers(0, 40)),
                   min_size=1, max_size=60),
)
def test_keda_invariants(low: int, extra: int, activation: float, steps: list) -> None:
    scaler = keda(min_workers=low, max_workers=max(low, 1) + extra, activation=activation)
    now, workers = 0.0, 0
    for backlog, reported in steps:
        now = scaler.next_check(now, 5.0)
        if reported is not None:
            workers = reported
        desired = scaler.decide(now, obs(backlog, workers))
        if workers <= scaler.max_workers:
            assert desired <= scaler.max_workers
        if desired == 0 and workers > 0:
            assert low == 0  # only KEDA returns to zero, and only without a minimum
        if workers == 0 and desired > 0:
            assert backlog > activation or low > 0
        workers = desired


def test_a_late_call_acts_at_its_slot_time() -> None:
    # A live timer wakes a few ms late; the HPA's "within the last periodSeconds" must not
    # depend on that (it did: 90.02's event was inside (90.01, 105.01], so no growth).
    on_time, late = keda(scale_up_policies="Pods 2 per 15s"), keda(
        scale_up_policies="Pods 2 per 15s")
    for scaler, lag in ((on_time, 0.0), (late, 0.02)):
        assert scaler.decide(90.0 + lag, obs(100, 0)) == 3  # poll wakes to 1, the HPA +2
        assert scaler.decide(105.0 + lag / 2, obs(100, 3)) == 5
