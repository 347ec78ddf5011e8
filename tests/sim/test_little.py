"""Little's law from the frames' running totals: L (time-averaged tasks in system) against
λW (admitted arrival rate × mean time in system) over a window, `core.segments.measure`.

Between two instants at which the system is empty, Little's law is an identity: every task
that entered also left, so the area under the count in system is exactly the sum of the times
in system. Over any other window it is off by what the tasks inside at either edge add, an
error that shrinks as 1/T. Both hold for any system, not only M/M/c: the run with failed
attempts, retries, dead letters and an autoscaling pool, and the one whose callers give up
(their tasks dropped unserved) and send again, are held to the same identity.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.core.segments import columns_of, measure
from queuelab.sim.engine import SimEngine


def mmc(seed: int = 3, duration: float = 3600.0) -> Scenario:
    s = Scenario()
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=0.0, seed=seed, sample_interval=1.0),
        arrivals=replace(s.arrivals, process="poisson", rate=3.2),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="fixed", workers=4),
    )


def retrying_autoscaled(seed: int = 4) -> Scenario:
    s = mmc(seed)
    return replace(
        s,
        arrivals=replace(s.arrivals, rate=1.5),
        failures=replace(s.failures, probability=0.2, poison_fraction=0.02),
        retry=replace(s.retry, max_attempts=3, base_delay=2.0),
        pool=replace(s.pool, strategy="dynamic", min_workers=1, max_workers=12,
                     autoscaler="threshold", scale_up_threshold=3.0,
                     scale_down_threshold=1.0, check_interval=5.0),
    )


def impatient_callers(seed: int = 7) -> Scenario:
    """Callers that give up after 3 s, retry twice, and workers that drop the abandoned."""
    s = mmc(seed)
    return replace(
        s, arrivals=replace(s.arrivals, rate=3.7),
        clients=replace(s.clients, timeout=3.0, retries=2, drop_expired=True))


def frames_of(scenario: Scenario, *, fast_path: bool = True) -> list[MetricsFrame]:
    engine = SimEngine(scenario)
    engine.fast_path = fast_path
    engine.run()
    engine.totals().check()
    return engine.take_frames()


def empty_instants(frames: list[MetricsFrame]) -> list[float]:
    return [f.t for f in frames if f.depth + f.in_flight + f.retrying == 0]


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("make", [mmc, retrying_autoscaled, impatient_callers],
                         ids=["mmc", "retries+autoscaling", "callers give up"])
def test_little_is_an_identity_between_two_empty_instants(make, fast_path: bool) -> None:
    frames = frames_of(make(), fast_path=fast_path)
    if make is retrying_autoscaled:  # the run really retries, dead-letters and scales
        assert frames[-1].dead_letters > 0 and max(f.retry_rate for f in frames) > 0
        assert len({f.workers for f in frames}) > 2
    if make is impatient_callers:  # tasks leave unserved, callers send new ones
        assert frames[-1].abandoned > 100 and frames[-1].client_retries > 100
    empty = empty_instants(frames)
    assert len(empty) > 20
    columns = columns_of(frames)
    start, end = empty[len(empty) // 10], empty[-1]
    w = measure(columns, start, end)
    assert w is not None and w.departed > 4_000
    # every task that entered in the window left in it: λT tasks, their times add to ∫N dt
    assert w.admitted_rate * w.duration == pytest.approx(w.departed)
    assert w.l == pytest.approx(w.admitted_rate * w.w, rel=1e-9)
    assert w.little_gap < 1e-9


def test_little_over_any_window_is_off_by_its_edges_only() -> None:
    """From a busy instant to another, the gap is at most what the tasks inside at the edges
    could add (each at most the longest time in system seen), over T."""
    frames = frames_of(mmc(seed=5, duration=7200.0))
    busy = [f for f in frames if f.depth >= 3]
    columns = columns_of(frames)
    for a, b in ((busy[5], busy[-5]), (busy[5], busy[len(busy) // 4])):
        w = measure(columns, a.t, b.t)
        assert w is not None
        edge = (a.depth + a.in_flight + b.depth + b.in_flight) * 20 * w.w  # 20 W: e^-20 odds
        assert abs(w.l - w.admitted_rate * w.w) * w.duration <= edge, (a.t, b.t, w)
        assert w.little_gap > 0  # not an identity here: the edges are occupied


def test_the_time_in_system_is_that_of_erlang_c() -> None:
    """L and W measured from the totals against M/M/4's at ρ = 0.8 (a consistency check of
    the new columns: the accuracy tests hold the waits to the formulas)."""
    engine = SimEngine(mmc(seed=6, duration=20_000.0))
    engine.run()
    ref = engine.reference()
    assert ref is not None
    w = measure(columns_of(engine.take_frames()), 200.0)
    assert w is not None
    assert w.l == pytest.approx(ref.l, rel=0.1)
    assert w.w == pytest.approx(ref.w, rel=0.1)
    assert w.utilization == pytest.approx(ref.rho, abs=0.02)
    assert w.lq == pytest.approx(w.admitted_rate * w.wq, rel=0.02)  # Little for the queue
