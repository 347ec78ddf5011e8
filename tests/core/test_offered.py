"""The offered load λ(t) the rate plot draws (`core.reference.offered_rate`, and
`core.segments.offered_in_force` for the knobs in force as changes fall): the shapes of the
arrival processes at known points, and a simulated run whose arrivals follow it."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from queuelab.core.engine import AppliedChange
from queuelab.core.reference import offered_rate
from queuelab.core.scenario import Scenario
from queuelab.core.segments import offered_in_force
from queuelab.core.timeline import TimelineEntry
from queuelab.sim.engine import SimEngine


def arriving(**knobs: Any) -> Scenario:
    s = Scenario()
    return replace(s, arrivals=replace(s.arrivals, **knobs))


def test_poisson_and_constant_are_flat_at_their_rate() -> None:
    t = [0.0, 1.5, 600.0, 86_400.0]
    for process in ("poisson", "constant"):
        assert list(offered_rate(arriving(process=process, rate=3.7), t)) == [3.7] * 4


def test_sine_peaks_a_quarter_period_in_and_bottoms_three_quarters_in() -> None:
    s = arriving(process="sine", rate=3.0, amplitude=2.0, period=600.0)
    y = offered_rate(s, [0.0, 150.0, 300.0, 450.0, 750.0, 1050.0])
    assert y == pytest.approx([3.0, 5.0, 3.0, 1.0, 5.0, 1.0])
    clipped = arriving(process="sine", rate=1.0, amplitude=3.0, period=600.0)
    assert offered_rate(clipped, [450.0])[0] == 0.0  # never negative: the trough is silence


def test_spike_adds_its_extra_inside_its_window_only() -> None:
    s = arriving(process="spike", rate=2.0, at=600.0, extra=20.0, length=60.0)
    y = offered_rate(s, [0.0, 599.9, 600.0, 630.0, 659.9, 660.0, 5_000.0])
    assert list(y) == pytest.approx([2.0, 2.0, 22.0, 22.0, 22.0, 2.0, 2.0])


def test_ramp_climbs_linearly_then_stays_at_its_end() -> None:
    s = arriving(process="ramp", rate=1.0, to_rate=8.0, over=1800.0)
    y = offered_rate(s, [0.0, 900.0, 1800.0, 1801.0, 10_000.0])
    assert list(y) == pytest.approx([1.0, 4.5, 8.0, 8.0, 8.0])


def test_bursts_repeat_every_cycle() -> None:
    s = arriving(process="bursty", rate=1.0, burst_rate=20.0, burst_length=30.0,
                 quiet_length=270.0)
    y = offered_rate(s, [0.0, 269.0, 270.0, 299.0, 300.0, 570.0])
    assert list(y) == [1.0, 1.0, 20.0, 20.0, 1.0, 20.0]


def test_a_trace_offers_its_local_density() -> None:
    s = arriving(process="trace", trace_times=tuple(0.05 + 0.1 * k for k in range(1000)))
    y = offered_rate(s, np.arange(10.0, 90.0, 0.37))
    assert y == pytest.approx(np.full(y.shape, 10.0))  # evenly spaced: exactly its rate
    assert offered_rate(s, [500.0])[0] == 0.0  # after the trace ends nothing more comes


def test_in_force_follows_each_change_of_the_arrivals_from_its_time_on() -> None:
    """A sine whose rate went 3 → 6 at 300 s, then a spike from 900 s: each stretch draws
    its own knobs; a change of another knob cuts nothing."""
    now = arriving(process="spike", rate=6.0, at=1_000.0, extra=10.0, length=50.0,
                   amplitude=2.0, period=600.0)
    changes = [AppliedChange(300.0, "arrivals.rate", 3.0, 6.0),
               AppliedChange(600.0, "pool.workers", 4, 5),
               AppliedChange(900.0, "arrivals.process", "sine", "spike")]
    t = np.array([150.0, 299.0, 300.0, 450.0, 750.0, 899.0, 900.0, 1_020.0, 1_100.0])
    y = offered_in_force(now, changes, t)
    sine = [3.0 + 2.0, 3.0 + 2.0 * math.sin(math.tau * 299.0 / 600.0), 6.0, 6.0 - 2.0,
            6.0 + 2.0, 6.0 + 2.0 * math.sin(math.tau * 899.0 / 600.0)]
    assert list(y) == pytest.approx([*sine, 6.0, 16.0, 6.0])
    assert list(offered_in_force(now, changes, t[::-1])) == pytest.approx(list(y[::-1]))
    assert list(offered_in_force(now, [], t)) == pytest.approx(
        list(offered_rate(now, t)))  # no change: the knobs now held all along


def test_a_simulated_run_arrives_at_the_offered_rate() -> None:
    """What the plot draws is what the engine offers: over each quarter of a wave (a timeline
    raising the rate half way), the arrivals counted match the offered λ integrated over the
    frames, within Poisson noise."""
    base = arriving(process="sine", rate=4.0, amplitude=3.0, period=400.0)
    s = replace(base, run=replace(base.run, duration=4_000.0, seed=5, sample_interval=1.0),
                timeline=(TimelineEntry(at=2_000.0, path="arrivals.rate", value=8.0),))
    engine = SimEngine(s)
    engine.run()
    frames = engine.take_frames()
    t = np.array([f.t for f in frames])
    created = np.array([f.created for f in frames], dtype=np.float64)
    # a frame's arrivals fell in (t - 1, t]: the offered rate at its middle
    offered = offered_in_force(engine.scenario, engine.changes, t - 0.5)
    assert offered[t < 2_000.0].max() == pytest.approx(7.0, abs=0.01)
    assert offered[t > 2_000.0].max() == pytest.approx(11.0, abs=0.01)
    edges = np.searchsorted(t, np.arange(0.0, 4_001.0, 100.0), side="right")
    for lo, hi in itertools.pairwise(edges):
        arrived = created[hi - 1] - (created[lo - 1] if lo else 0.0)
        expected = float(offered[lo:hi].sum())
        assert abs(arrived - expected) <= 4.0 * math.sqrt(expected), (t[lo], arrived, expected)
