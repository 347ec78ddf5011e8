"""A run cut at its changes (`core.segments`): where the cuts fall, how much of each segment
is skipped as warm-up and why, the knobs each segment ran, its theory, and a simulated run
whose segment after a change lands on the new knobs' Erlang C while the whole run does not."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from queuelab.core.engine import AppliedChange
from queuelab.core.scenario import Scenario
from queuelab.core.segments import (
    MAX_WARMUP_SHARE,
    WARMUP_RELAXATIONS,
    columns_of,
    measure,
    running_means,
    scenario_at,
    segment_theory,
    segment_warmup,
    segments,
)
from queuelab.core.theory import erlang_c, mmck, relaxation_time, relaxation_time_mmck
from queuelab.core.timeline import TimelineEntry
from queuelab.core.validation import ParamChange
from queuelab.sim.engine import SimEngine


def mmc(rate: float = 3.2, workers: int = 4, duration: float = 3600.0) -> Scenario:
    s = Scenario()
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=120.0, seed=2, sample_interval=1.0),
        arrivals=replace(s.arrivals, process="poisson", rate=rate),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="fixed", workers=workers),
    )


def test_cuts_fall_at_changes_one_per_instant_and_ignore_alerts() -> None:
    now = mmc(rate=3.6, workers=5)
    changes = [AppliedChange(0.0, "arrivals.rate", 3.0, 3.2),  # before anything ran: no cut
               AppliedChange(600.0, "pool.workers", 4, 5),
               AppliedChange(600.0, "arrivals.rate", 3.2, 3.6),  # the same instant: one cut
               AppliedChange(900.0, "alert.backlog", None, "backlog over 100"),
               AppliedChange(950.0, "run.duration", 3600.0, 4000.0),
               # a knob a fixed pool does not use is only recorded: no new steady state
               AppliedChange(990.0, "pool.scale_up_threshold", 100.0, 15.0)]
    parts = segments(changes, 2000.0, now)
    assert [(p.start, p.end) for p in parts] == [(0.0, 600.0), (600.0, 2000.0)]
    first, second = parts
    assert (first.warmup, first.warmup_why) == (120.0, "the scenario's warm-up")
    assert len(second.change) == 2
    tau = relaxation_time(3.6, 1.0, 5)
    assert second.warmup == pytest.approx(WARMUP_RELAXATIONS * tau)
    assert second.measured_from == pytest.approx(600.0 + 5 * tau)
    text = second.describe(412.0)
    assert text.startswith("measured over 412 s since the change at 600 s (Workers 4 → 5; ")
    assert text.endswith(f"first {5 * tau:,.0f} s excluded as warm-up (5τ, τ = {tau:.3g} s)")
    assert segments([], 50.0, now)[0].warmup == 50.0  # a warm-up never outlasts its segment


def test_the_warm_up_is_capped_to_a_share_of_the_segment() -> None:
    heavy = mmc(rate=3.96)  # ρ = 0.99: τ is about 10,000 s
    warm, why = segment_warmup(heavy, 300.0)
    assert warm == pytest.approx(MAX_WARMUP_SHARE * 300.0)
    assert why.startswith("a third of the segment; 5τ would be")
    over = segment_warmup(mmc(rate=5.0), 300.0)
    assert over == (pytest.approx(100.0), "a third of the segment: at this load the queue "
                    "never settles")
    # a bounded queue settles at any load: M/M/c/K's own relaxation time, even past ρ = 1
    bounded = replace(mmc(rate=4.4), queue=replace(mmc().queue, max_length=6))
    warm, why = segment_warmup(bounded, 1_000.0)
    assert warm == pytest.approx(5 * relaxation_time_mmck(4.4, 1.0, 4, 10))
    assert why.startswith("5τ, τ = 2.07 s")
    dynamic = replace(heavy, pool=replace(heavy.pool, strategy="dynamic"))
    assert segment_warmup(dynamic, 90.0)[1].endswith("a dynamic pool has no one relaxation time")


def test_each_segment_gets_the_knobs_it_ran() -> None:
    now = mmc(rate=3.6, workers=5)
    changes = [AppliedChange(600.0, "pool.workers", 4, 5),
               AppliedChange(900.0, "arrivals.rate", 3.2, 3.6)]
    assert scenario_at(now, changes, 0.0).pool.workers == 4
    assert scenario_at(now, changes, 0.0).arrivals.rate == 3.2
    middle = scenario_at(now, changes, 600.0)
    assert (middle.pool.workers, middle.arrivals.rate) == (5, 3.2)
    assert scenario_at(now, changes, 900.0) == now


def test_segment_theory_is_erlang_c_or_mmck_or_says_why() -> None:
    timed = replace(mmc(), timeline=(TimelineEntry(at=600.0, path="pool.workers", value=5),))
    th = segment_theory(timed)  # within a segment the timeline changes nothing
    ref = erlang_c(3.2, 1.0, 4)
    assert th.model == "Erlang C (M/M/c, c = 4)"
    assert (th.wq, th.l, th.p_block) == (ref.wq, ref.l, 0.0)
    bounded = replace(mmc(), queue=replace(mmc().queue, max_length=3))
    th = segment_theory(bounded)
    want = mmck(3.2, 1.0, 4, 7)
    assert th.model == "M/M/c/K (c = 4, K = 7)"
    assert (th.p_block, th.wq, th.admitted_rate) == (want.p_block, want.wq, want.admitted_rate)
    # P(wait) of an admitted task: the admitted arrivals that find all c workers busy
    assert 0 < th.p_wait < 1
    lognormal = replace(bounded, service=replace(bounded.service, distribution="lognormal"))
    th = segment_theory(lognormal)
    assert th.model is None and th.why_not == "service times are lognormal, not exponential"


def test_measure_reads_differences_of_running_totals() -> None:
    engine = SimEngine(mmc(duration=300.0))
    engine.run()
    frames = engine.take_frames()
    cols = columns_of(frames)
    whole = measure(cols, 0.0)
    assert whole is not None and (whole.start, whole.end) == (0.0, 300.0)
    assert whole.first_starts == frames[-1].first_starts
    part = measure(cols, 40.5, 70.9)  # from the boundary after its start to the one before
    assert part is not None and (part.start, part.end) == (41.0, 70.0)  # its end
    assert part.arrived == frames[69].created - frames[40].created
    assert measure(cols, 299.5) is None  # no frame closes after it
    assert math.isnan(part.wq_ci95) is False


def test_the_segment_after_a_change_lands_on_the_new_knobs_erlang_c() -> None:
    """λ 3.2 → 3.6 on four workers half way: Wq moves from 0.746 s to 1.97 s. The segment
    since the change, its warm-up skipped, is inside its interval around the new Erlang C;
    the whole run after the scenario's warm-up mixes the two loads and is as far from either
    as the segment's interval is wide, twice over."""
    engine = SimEngine(mmc(duration=60_000.0))
    engine.run_until(30_000.0)
    engine.apply(ParamChange("arrivals.rate", 3.6))
    engine.run()
    cols = columns_of(engine.take_frames())
    current = segments(engine.changes, engine.now, engine.scenario)[-1]
    assert current.start == 30_000.0
    th = segment_theory(engine.scenario)
    assert th.wq == pytest.approx(erlang_c(3.6, 1.0, 4).wq)
    seg = measure(cols, current.measured_from)
    assert seg is not None
    assert abs(seg.wq - th.wq) <= 2 * seg.wq_ci95, (seg.wq, seg.wq_ci95, th.wq)
    assert seg.admitted_rate == pytest.approx(3.6, rel=0.02)
    whole = measure(cols, 120.0)
    assert whole is not None
    for wq in (th.wq, erlang_c(3.2, 1.0, 4).wq):  # the mix is more than the segment's
        assert abs(whole.wq - wq) > 2 * seg.wq_ci95, (whole.wq, wq)  # interval from either


def test_running_means_end_where_the_window_measures() -> None:
    """Each running mean at a frame is the window from the start to that frame: the last
    one is `measure`'s figure, and the rows before the start have none."""
    engine = SimEngine(mmc(duration=2_000.0))
    engine.run()
    cols = columns_of(engine.take_frames())
    t, means = running_means(cols, 500.0)
    assert t[0] == 501.0 and t[-1] == 2_000.0  # from the first boundary after the start
    win = measure(cols, 500.0)
    assert win is not None
    assert means["run_wq"][-1] == pytest.approx(win.wq)
    assert means["run_utilization"][-1] == pytest.approx(win.utilization)
    assert means["run_lq"][-1] == pytest.approx(win.lq)
    middle = measure(cols, 500.0, 1_200.0)
    assert middle is not None
    assert means["run_wq"][1_200 - 501] == pytest.approx(middle.wq)
    # the mean since the start settles: its last quarter moves far less than its first
    wq = means["run_wq"]
    assert np.ptp(wq[-375:]) < np.ptp(wq[:375]) / 3
