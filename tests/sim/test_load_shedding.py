"""Load shedding (`[queue] max_length`): the simulator against M/M/c/K, and the books.

An arrival that finds max_length tasks waiting is turned away, so c workers and max_length
places make an M/M/c/K queue with K = c + max_length. Eight seeds give the blocking
probability's 95 % interval (replications); the mean wait of the admitted tasks uses each
run's batch-means interval, as the Erlang C accuracy tests do.
"""

from __future__ import annotations

import statistics
from dataclasses import replace

import pytest

from queuelab.core.reference import mmck_reference, why_not_mmc
from queuelab.core.scenario import Scenario
from queuelab.core.segments import columns_of, measure
from queuelab.sim.engine import SimEngine

SEEDS = range(1, 9)
T_975_7 = 2.365  # Student's t, 7 degrees of freedom


def bounded(seed: int, max_length: int = 3) -> Scenario:
    s = Scenario()
    return replace(
        s,
        run=replace(s.run, duration=15_000.0, warmup=200.0, seed=seed, sample_interval=100.0),
        arrivals=replace(s.arrivals, process="poisson", rate=1.5),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="fixed", workers=2),
        queue=replace(s.queue, max_length=max_length),
    )


def test_blocking_and_wait_match_mmck() -> None:
    ref = mmck_reference(bounded(1))
    assert ref is not None and ref.capacity == 5
    assert ref.p_block == pytest.approx(0.085114, abs=1e-6)
    assert why_not_mmc(bounded(1)).startswith("the queue is bounded")  # type: ignore[union-attr]
    shares, inside = [], 0
    for seed in SEEDS:
        engine = SimEngine(bounded(seed))
        engine.run()
        t = engine.totals().check()
        assert t.rejected > 0 and t.balanced
        shares.append(t.rejected / t.created)
        s = engine.summary()
        err = abs(s.mean_wait - ref.wq)
        assert err <= 2 * s.mean_wait_ci95, (seed, s.mean_wait, s.mean_wait_ci95, ref.wq)
        inside += err <= s.mean_wait_ci95
        frames = engine.take_frames()
        assert frames[-1].rejected == t.rejected
        assert max(f.depth for f in frames) <= 3
    mean = statistics.fmean(shares)
    half = T_975_7 * statistics.stdev(shares) / len(shares) ** 0.5
    assert abs(mean - ref.p_block) <= half, (mean, half, ref.p_block)
    assert inside >= 5


def test_the_queue_never_holds_more_than_its_bound_and_nothing_is_lost() -> None:
    s = bounded(3, max_length=2)
    s = replace(s, run=replace(s.run, duration=300.0), arrivals=replace(s.arrivals, rate=6.0))
    engine = SimEngine(s)
    while engine.step():
        t = engine.totals()
        assert t.waiting <= 2 and t.balanced, t
    assert engine.totals().rejected > 500
    # a failed attempt's retry was admitted already: it re-enters a full queue
    failing = SimEngine(replace(s, failures=replace(s.failures, probability=0.3)))
    while failing.step():
        assert failing.totals().balanced
    assert failing.totals().rejected > 500
    unbounded = SimEngine(replace(s, queue=replace(s.queue, max_length=0)))
    unbounded.run()
    assert unbounded.totals().rejected == 0


def test_admitted_rate_l_and_w_match_mmck_within_their_intervals() -> None:
    """λ_eff, L and W of the same eight runs, measured over each run after its warm-up from
    the frames' running totals (`core.segments.measure`), against M/M/c/K: every figure
    inside twice its 95 % interval over the replications, most inside once."""
    ref = mmck_reference(bounded(1))
    assert ref is not None
    figures: dict[str, list[float]] = {"admitted_rate": [], "l": [], "w": [], "p_block": []}
    for seed in SEEDS:
        engine = SimEngine(bounded(seed))
        engine.run()
        win = measure(columns_of(engine.take_frames()), bounded(seed).run.warmup)
        assert win is not None
        for name, values in figures.items():
            values.append(getattr(win, name))
    inside = 0
    for name, values in figures.items():
        want = getattr(ref, name)
        mean = statistics.fmean(values)
        half = T_975_7 * statistics.stdev(values) / len(values) ** 0.5
        assert abs(mean - want) <= 2 * half, (name, mean, half, want)
        inside += abs(mean - want) <= half
    assert inside >= 3
