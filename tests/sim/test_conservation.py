"""No task is ever lost or counted twice: the totals balance at every event of random runs."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuelab.core.limits import TICK
from queuelab.core.scenario import ARRIVAL_PROCESSES, Scenario
from queuelab.core.task import DeadLetterQuery
from queuelab.core.validation import ParamChange
from queuelab.sim.engine import SimEngine

processes = st.sampled_from([p for p in ARRIVAL_PROCESSES if p != "trace"])


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    s = Scenario()
    strategy = draw(st.sampled_from(["single", "fixed", "dynamic", "semaphore"]))
    levels = draw(st.integers(1, 3))
    breaker = draw(st.booleans())
    return replace(
        s,
        run=replace(s.run, duration=draw(st.floats(20, 300)), warmup=0.0,
                    seed=draw(st.integers(0, 10_000)), sample_interval=draw(st.floats(0.5, 5))),
        arrivals=replace(s.arrivals, process=draw(processes), rate=draw(st.floats(0.5, 20)),
                         burst_length=5.0, quiet_length=20.0, period=60.0, at=10.0,
                         length=10.0, over=100.0),
        service=replace(s.service, distribution=draw(st.sampled_from(
            ["constant", "exponential", "uniform", "lognormal", "pareto"])),
            mean=draw(st.floats(0.05, 2.0)), low=0.01, high=1.0),
        failures=replace(s.failures, probability=draw(st.floats(0, 0.6)),
                         poison_fraction=draw(st.floats(0, 0.2))),
        priorities=replace(s.priorities, weights=tuple([1.0] * levels)),
        queue=replace(s.queue, discipline=draw(st.sampled_from(["fifo", "priority"])),
                      max_length=draw(st.sampled_from([0, 0, 2, 20]))),  # load shedding
        pool=replace(s.pool, strategy=strategy, workers=draw(st.integers(1, 6)),
                     min_workers=draw(st.integers(0, 1)), max_workers=8,
                     check_interval=draw(st.floats(0.5, 10)),
                     autoscaler=draw(st.sampled_from(["threshold", "target"])),
                     scale_up_threshold=5.0, scale_down_threshold=1.0,
                     startup_delay=draw(st.sampled_from([0.0, 2.0])),
                     concurrency=draw(st.integers(1, 6)), prefetch=draw(st.integers(0, 4))),
        retry=replace(s.retry, max_attempts=draw(st.integers(1, 4)),
                      base_delay=draw(st.just(0.0) | st.floats(TICK, 3)), max_delay=10.0,
                      jitter=draw(st.sampled_from(["none", "full", "equal"])),
                      mode=draw(st.sampled_from(["requeue", "inline"]))),
        timeouts=replace(s.timeouts, task=draw(st.sampled_from([0.0, 0.5, 3.0]))),
        breaker=replace(s.breaker, enabled=breaker, failure_threshold=3, open_for=5.0),
        # callers that give up and retry (`[clients]`): abandoned, wasted or dropped work
        clients=replace(s.clients, timeout=draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
                        retries=draw(st.integers(0, 3)),
                        retry_budget=draw(st.sampled_from([0.0, 0.1, 0.5])),
                        drop_expired=draw(st.booleans())),
    )


CHANGES = [
    ParamChange("arrivals.rate", 15.0),
    ParamChange("failures.probability", 0.9),
    ParamChange("failures.probability", 0.0),
    ParamChange("retry.max_attempts", 1),
    ParamChange("retry.mode", "inline"),
    ParamChange("retry.mode", "requeue"),
    ParamChange("pool.workers", 1),
    ParamChange("pool.workers", 7),
    ParamChange("pool.max_workers", 3),
    ParamChange("pool.scale_up_threshold", 2.0),
    ParamChange("pool.concurrency", 2),
    ParamChange("pool.prefetch", 3),
    ParamChange("breaker.enabled", True),
    ParamChange("breaker.enabled", False),
    ParamChange("timeouts.task", 0.2),
    ParamChange("service.mean", 0.5),
    ParamChange("clients.timeout", 0.3),
    ParamChange("clients.timeout", 0.0),
    ParamChange("clients.retries", 2),
    ParamChange("clients.retry_budget", 0.05),
    ParamChange("clients.drop_expired", True),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), changes=st.lists(st.sampled_from(CHANGES), max_size=4),
       data=st.data())
def test_totals_balance_at_every_event(scenario: Scenario, changes: list[ParamChange],
                                       data: st.DataObject) -> None:
    engine = SimEngine(scenario)
    engine.start()
    change_at = sorted(data.draw(st.lists(st.integers(1, 3000), min_size=len(changes),
                                          max_size=len(changes))))
    pending = list(zip(change_at, changes, strict=True))
    steps = 0
    while engine.step():
        steps += 1
        t = engine.totals()
        assert t.balanced, (steps, t)
        while pending and pending[0][0] == steps:
            _, change = pending.pop(0)
            engine.apply(change)  # a valid change; conservation must survive it
            engine.totals().check()
        if steps % 500 == 0:
            page = asyncio.run(engine.dead_letters(DeadLetterQuery(limit=5)))
            ids = [d.id for d in page.items]
            asyncio.run(engine.reprocess(ids[:3], reset_attempts=steps % 1000 == 0))
            asyncio.run(engine.discard(ids[3:4]))
            engine.totals().check()
        if steps > 6000:
            break
    engine.run()
    final = engine.totals().check()
    for frame in engine.take_frames():
        assert frame.created >= frame.done
        assert frame.busy <= frame.workers
        assert 0.0 <= frame.utilization <= 1.0
        assert 0.0 <= frame.error_rate <= 1.0
    assert final.dead_lettered == len(engine.dead)
    extras = engine.summary().extras
    if "client_timeouts" in extras:  # every caller that timed out retried or gave up, once
        resent = extras["client_retries"]
        assert extras["client_timeouts"] >= resent + extras["gave_up"] >= resent
        assert final.abandoned <= extras["client_timeouts"]
