"""A run cut at its knob changes, and what was measured over a window of it.

After a change (by hand or by the timeline) the queue moves to a new steady state, so a
prediction for the new knobs must be compared with what happened since the change, not with
the whole run: a run that mixes two loads agrees with neither. `segments` cuts a run at its
changes; each later segment skips a warm-up of `WARMUP_RELAXATIONS` relaxation times
(`core.theory.relaxation_time`, the time scale on which a queue forgets where it started),
at most `MAX_WARMUP_SHARE` of the segment so far, and the first one skips the scenario's
own warm-up. `measure` turns two frames into the window's figures, exactly: the frames carry
running totals (`core.metrics`), so a window's mean wait, utilization, L and W are
differences, whatever the window and however the plots' history was folded.

Little's law, L = λW, holds for any system that is as full at the end of a window as at its
start; over a window of length T it is off only by what the tasks inside at either edge
contribute, O(1/T). `Window.little_gap` is that relative difference, the readout a learner
watches shrink as the window grows.

`segment_theory` is the prediction for the knobs of one segment: Erlang C, or M/M/c/K for a
bounded queue, or why neither applies; `offered_in_force` the load the arrival knobs in force
offered at each frame's time (the rate plot's dashed λ(t)). Pure functions, usable without a
window: the CLI prints the same per-segment figures.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from queuelab.core.changes import Route, route
from queuelab.core.engine import DEAD_LETTER_ACTIONS, AppliedChange
from queuelab.core.metrics import FRAME_COLUMNS, MetricsFrame
from queuelab.core.reference import (
    mmc_reference,
    mmck_reference,
    offered_rate,
    servers_of,
    why_not_mmc,
    why_not_mmck,
)
from queuelab.core.scenario import KNOBS, Scenario
from queuelab.core.stats import t975
from queuelab.core.theory import littles_law_residual, relaxation_time, relaxation_time_mmck
from queuelab.core.validation import ParamChange, with_change

if TYPE_CHECKING:
    from numpy.typing import NDArray

NAN = math.nan
WARMUP_RELAXATIONS = 5.0  # e^-5 < 1 %: what is left of the start after five relaxation times
MAX_WARMUP_SHARE = 1.0 / 3.0  # never skip more than this share of the segment so far
CI_BATCHES = 10  # batches of frames for a window's interval
Columns = Mapping[str, Any]  # name -> a column of floats: a list, or a numpy array


@dataclass(frozen=True, slots=True)
class Segment:
    """The part of a run between two changes, knobs constant throughout."""

    start: float  # the change that began it, or the run's start
    end: float  # the next change, or now
    change: tuple[AppliedChange, ...]  # what changed at `start` (empty for the first)
    warmup: float  # seconds skipped at its start
    warmup_why: str  # how that was chosen, in words

    @property
    def measured_from(self) -> float:
        return self.start + self.warmup

    def describe(self, measured: float | None = None) -> str:
        """'measured over 412 s since the change at 600 s (workers 4 → 5), first 38 s
        excluded as warm-up (5τ, τ = 7.6 s)'; `measured` is the window actually measured
        (frames end on their boundaries), by default the segment after its warm-up."""
        span = self.end - self.measured_from if measured is None else measured
        if self.change:
            what = "; ".join(c.label() for c in self.change)
            since = f"since the change at {self.start:,.0f} s ({what})"
        else:
            since = "since the start"
        return (f"measured over {span:,.0f} s {since}, first {self.warmup:,.0f} s excluded as "
                f"warm-up ({self.warmup_why})")


def is_boundary(change: AppliedChange, strategy: str | None = None) -> bool:
    """A change that can move the queue to another steady state: a knob that reaches
    something under the pool `strategy` (`core.changes.route`; a knob the pool does not use
    is only recorded), or a dead-letter action. An alert the monitor marks changes nothing;
    nor does the run's length."""
    path = change.path
    if path.startswith("alert.") or path == "run.duration":
        return False
    if strategy is None or path in DEAD_LETTER_ACTIONS:
        return True
    return route(path, strategy) is not None


def segment_warmup(scenario: Scenario, length: float) -> tuple[float, str]:
    """The warm-up of a segment that runs `scenario`'s knobs and has lasted `length` so far:
    WARMUP_RELAXATIONS relaxation times of its M/M/c approximation (same λ, mean service and
    servers), at most MAX_WARMUP_SHARE of `length`, with the reason in words."""
    cap = MAX_WARMUP_SHARE * max(length, 0.0)
    c = servers_of(scenario)
    if c is None:
        return cap, "a third of the segment: a dynamic pool has no one relaxation time"
    mean = scenario.service.mean
    bound = scenario.queue.max_length  # a bounded queue settles at any load
    tau = (relaxation_time_mmck(scenario.arrivals.rate, 1.0 / mean, c, c + bound) if bound
           else relaxation_time(scenario.arrivals.rate, 1.0 / mean, c))
    warm = WARMUP_RELAXATIONS * tau
    if warm <= cap:
        return warm, f"{WARMUP_RELAXATIONS:g}τ, τ = {tau:.3g} s"
    if math.isinf(tau):
        return cap, "a third of the segment: at this load the queue never settles"
    return cap, f"a third of the segment; {WARMUP_RELAXATIONS:g}τ would be {warm:,.0f} s"


def segments(changes: Sequence[AppliedChange], now: float, scenario: Scenario
             ) -> list[Segment]:
    """The run so far cut at its changes (those `is_boundary` keeps; changes at one instant
    make one cut, changes before anything ran none). `scenario` is the one in force now: it
    sets the last segment's warm-up. The earlier segments take the same rule with the knobs
    they ran (`scenario_at`)."""
    cuts: list[tuple[float, list[AppliedChange]]] = []
    for c in changes:
        if not is_boundary(c, scenario.pool.strategy) or c.t <= 0.0 or c.t >= now:
            continue
        if cuts and cuts[-1][0] == c.t:
            cuts[-1][1].append(c)
        else:
            cuts.append((c.t, [c]))
    starts: list[tuple[float, list[AppliedChange]]] = [(0.0, []), *cuts]
    out: list[Segment] = []
    for i, (start, what) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else now
        if i == 0:
            warm = min(scenario.run.warmup, end)
            why = "the scenario's warm-up"
        else:
            knobs = scenario_at(scenario, changes, start)
            warm, why = segment_warmup(knobs, end - start)
        out.append(Segment(start, end, tuple(what), warm, why))
    return out


def scenario_at(scenario: Scenario, changes: Sequence[AppliedChange], t: float) -> Scenario:
    """The knobs in force just after time `t`: `scenario` (the one in force now) with every
    later change undone, its timeline dropped (within a segment nothing changes)."""
    s = replace(scenario, timeline=())
    for c in reversed(changes):
        if c.t <= t or not is_boundary(c) or c.path not in KNOBS:
            continue
        s = with_change(s, ParamChange(c.path, c.old))
    return s


# --------------------------------------------------------------------------- a window measured


@dataclass(frozen=True, slots=True)
class Window:
    """What happened between two frame boundaries. NaN where nothing was measured."""

    start: float
    end: float
    arrived: int  # arrivals, turned away or not
    rejected: int
    first_starts: int
    departed: int  # completed or dead-lettered
    admitted_rate: float  # λ that entered the system, per second
    p_block: float  # share of arrivals turned away
    p_wait: float  # share of first starts that waited at all
    wq: float  # mean wait of the first starts
    wq_ci95: float  # its half-width by batch means over the window's frames (NaN: too few)
    utilization: float  # busy worker-seconds / live worker-seconds
    mean_busy: float  # time-averaged busy workers
    l: float  # time-averaged tasks in system (waiting, in flight, retrying)  # noqa: E741
    lq: float  # … of them waiting: L less the busy workers and the frames' mean retrying
    w: float  # mean time in system of the tasks that left
    throughput: float  # completions per second

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def little_gap(self) -> float:
        """|L - λW| / max(L, λW): how far Little's law is from holding over this window."""
        return littles_law_residual(self.l, self.admitted_rate, self.w)


def columns_of(frames: Sequence[MetricsFrame]) -> dict[str, list[float]]:
    """Frames as columns, the form `measure` reads (the window's history keeps columns)."""
    return {name: [f[i] for f in frames] for i, name in enumerate(FRAME_COLUMNS)}


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else NAN


def measure(columns: Columns, start: float, end: float = math.inf) -> Window | None:
    """The window from the first frame boundary at or after `start` (the run's start for
    `start` <= 0), so that a warm-up is skipped whole, to the last one at or before `end`;
    None when no frame closes inside it."""
    t = columns["t"]
    i0 = bisect_left(t, start) if start > 0 else -1  # -1: the run's start, all totals 0
    i1 = bisect_right(t, end) - 1
    if i1 < 0 or i1 <= i0:
        return None

    def at(name: str, i: int) -> float:
        return float(columns[name][i]) if i >= 0 else 0.0

    def delta(name: str) -> float:
        return at(name, i1) - at(name, i0)

    t0, t1 = at("t", i0), at("t", i1)
    dt = t1 - t0
    arrived, rejected = delta("created"), delta("rejected")
    starts, departed = delta("first_starts"), delta("departed")
    wq = _ratio(delta("wait_sum"), starts)
    l_ = delta("system_area") / dt
    mean_busy = delta("busy_area") / dt
    retrying = columns["retrying"][i0 + 1:i1 + 1]
    lq = l_ - mean_busy - math.fsum(float(x) for x in retrying) / len(retrying)
    return Window(
        start=t0, end=t1, arrived=round(arrived), rejected=round(rejected),
        first_starts=round(starts), departed=round(departed),
        admitted_rate=(arrived - rejected) / dt, p_block=_ratio(rejected, arrived),
        p_wait=_ratio(delta("waited"), starts), wq=wq,
        wq_ci95=_batch_ci(columns, i0, i1),
        utilization=_ratio(delta("busy_area"), delta("worker_area")), mean_busy=mean_busy,
        l=l_, lq=lq, w=_ratio(delta("sojourn_sum"), departed),
        throughput=(at("done", i1) - at("done", i0)) / dt)


def _batch_ci(columns: Columns, i0: int, i1: int) -> float:
    """The 95 % half-width of the window's mean wait from CI_BATCHES consecutive batches of
    its frames (each batch's waits over its starts): batches of a long window are nearly
    independent, where successive waits are not. NaN with fewer frames than batches."""
    n = i1 - i0
    if n < CI_BATCHES:
        return NAN
    sums, counts = columns["wait_sum"], columns["first_starts"]
    means: list[float] = []
    for b in range(CI_BATCHES):
        lo = i0 + b * n // CI_BATCHES
        hi = i0 + (b + 1) * n // CI_BATCHES
        started = (float(counts[hi]) - (float(counts[lo]) if lo >= 0 else 0.0))
        if started <= 0:
            return NAN
        means.append((float(sums[hi]) - (float(sums[lo]) if lo >= 0 else 0.0)) / started)
    mean = math.fsum(means) / CI_BATCHES
    var = math.fsum((m - mean) ** 2 for m in means) / (CI_BATCHES - 1)
    return t975(CI_BATCHES - 1) * math.sqrt(var / CI_BATCHES)


# --------------------------------------------------------------------------- its theory


@dataclass(frozen=True, slots=True)
class SegmentTheory:
    """The prediction for one segment's knobs, in the rows the Theory tab shows; `model` is
    None (and `why_not` says why) when no formula here applies."""

    model: str | None
    why_not: str | None
    rho: float = NAN
    p_wait: float = NAN
    p_block: float = NAN
    admitted_rate: float = NAN
    lq: float = NAN
    wq: float = NAN
    w: float = NAN
    l: float = NAN  # noqa: E741
    stable: bool = True


def steady(scenario: Scenario) -> Scenario:
    """The scenario as one segment runs it: its timeline dropped, since within a segment no
    change falls (the next one would begin another segment)."""
    return replace(scenario, timeline=()) if scenario.timeline else scenario


def segment_theory(scenario: Scenario) -> SegmentTheory:
    """Erlang C for an M/M/c segment, M/M/c/K for a bounded one, else why neither."""
    s = steady(scenario)
    bounded = mmck_reference(s)
    if bounded is not None:
        return SegmentTheory(
            f"M/M/c/K (c = {bounded.servers}, K = {bounded.capacity})", None,
            rho=bounded.utilization, p_wait=bounded.p_wait, p_block=bounded.p_block,
            admitted_rate=bounded.admitted_rate, lq=bounded.lq, wq=bounded.wq, w=bounded.w,
            l=bounded.l)
    pred = mmc_reference(s)
    if pred is None:
        why = why_not_mmck(s) if s.queue.max_length else why_not_mmc(s)
        return SegmentTheory(None, why)
    return SegmentTheory(
        f"Erlang C (M/M/c, c = {pred.servers})", None, rho=pred.rho, p_wait=pred.p_wait,
        p_block=0.0, admitted_rate=pred.arrival_rate, lq=pred.lq, wq=pred.wq, w=pred.w,
        l=pred.l, stable=pred.stable)


def theory_reference(theory: SegmentTheory | None) -> tuple[float, float, float]:
    """The theory lines' values (Lq, ρ, Wq) of a segment's theory; NaN where it has none."""
    if theory is None or theory.model is None:
        return (math.nan, math.nan, math.nan)
    return (theory.lq, theory.rho, theory.wq)


def offered_in_force(scenario: Scenario, changes: Sequence[AppliedChange],
                     times: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """The offered λ(t) at each of `times` (ascending or not) under the arrival knobs in force
    at that time: `scenario` is the one in force now, and each change that reaches the
    arrivals (`core.changes.route`, by hand or by the timeline) rebuilds the process from
    its time on, as the engines do. A change at t applies at t."""
    t = np.asarray(times, dtype=np.float64)
    strategy = scenario.pool.strategy
    cuts = sorted({c.t for c in changes if route(c.path, strategy) is Route.ARRIVALS})
    piece = np.searchsorted(cuts, t, side="right")  # how many cuts came at or before each t
    out = np.empty(t.shape, dtype=np.float64)
    for k in np.unique(piece):
        knobs = scenario if k == len(cuts) else scenario_at(
            scenario, changes, cuts[k - 1] if k else -math.inf)
        here = piece == k
        out[here] = offered_rate(knobs, t[here])
    return out


# --------------------------------------------------------------------------- running means

RUNNING = ("run_lq", "run_utilization", "run_wq")
"""The running means the plots draw beside the raw frames, each the mean since a segment's
measured start up to every later frame: the tasks waiting, the utilization, the mean wait."""


def running_means(columns: Columns, start: float) -> tuple[Any, dict[str, Any]]:
    """(t, {name: values}) for the frames after the first boundary at or after `start`: each
    value the mean from there to that frame (RUNNING), from the running totals. Cumulative
    rather than exponentially weighted on purpose: a theory line is a steady-state mean, and
    the mean since the change is what converges to it (its noise shrinks as 1/√T, and it
    restarts at each change), where an EWMA keeps the noise of its fixed time constant and
    drags the last segment into the next. The waiting count is L less the busy workers and
    the mean retrying count (the frames' snapshots), or, for an engine that keeps no time in
    system, the mean of the frames' waiting snapshots."""
    t = np.asarray(columns["t"], dtype=np.float64)
    i0 = int(np.searchsorted(t, start, side="left")) if start > 0 else -1
    rows = slice(i0 + 1, None)
    ts = t[rows]
    if ts.size == 0:
        return ts, {name: ts for name in RUNNING}

    def since(name: str) -> Any:
        col = np.asarray(columns[name], dtype=np.float64)
        return col[rows] - (col[i0] if i0 >= 0 else 0.0)

    def snapshots(name: str) -> Any:
        col = np.asarray(columns[name], dtype=np.float64)[rows]
        return np.cumsum(col) / np.arange(1, col.size + 1)

    span = ts - (t[i0] if i0 >= 0 else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lq = (since("system_area") - since("busy_area")) / span - snapshots("retrying")
        if not np.isfinite(lq).any():
            lq = snapshots("depth")
        starts = since("first_starts")
        wq = np.where(starts > 0, since("wait_sum") / starts, np.nan)
        worker = since("worker_area")
        util = np.where(worker > 0, since("busy_area") / worker, np.nan)
    return ts, {"run_lq": lq, "run_utilization": util, "run_wq": wq}


# --------------------------------------------------------------------------- a run's segments


def report(changes: Sequence[AppliedChange], now: float, scenario: Scenario,
           columns: Columns) -> list[dict[str, Any]]:
    """Each segment of a finished run, measured after its warm-up against the theory for its
    own knobs, as plain values (summary.json's `segments`, the CLI's lines). `scenario` is
    the one in force at the end; each segment's knobs come from undoing later changes."""
    out: list[dict[str, Any]] = []
    for seg in segments(changes, now, scenario):
        knobs = scenario_at(scenario, changes, seg.start)
        th = segment_theory(knobs)
        win = measure(columns, seg.measured_from, seg.end)
        entry: dict[str, Any] = {
            "start": seg.start, "end": seg.end,
            "changes": [c.label() for c in seg.change],
            "warmup": seg.warmup, "warmup_why": seg.warmup_why,
            "theory": None if th.model is None else {
                "model": th.model, "rho": th.rho, "p_wait": th.p_wait, "p_block": th.p_block,
                "wq": th.wq if th.stable else None, "w": th.w if th.stable else None,
                "l": th.l if th.stable else None},
            "not_in_theory_because": th.why_not,
            "measured": None,
        }
        if win is not None:
            entry["measured"] = {
                "start": win.start, "end": win.end, "arrived": win.arrived,
                "admitted_rate": win.admitted_rate, "p_block": win.p_block,
                "p_wait": win.p_wait, "wq": win.wq, "wq_ci95": win.wq_ci95,
                "utilization": win.utilization, "l": win.l, "w": win.w,
                "little_gap": win.little_gap}
        out.append({k: _plain(v) for k, v in entry.items()})
    return out


def _plain(value: Any) -> Any:
    """JSON's values: NaN and infinities as None (JSON has neither), inside dicts too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
