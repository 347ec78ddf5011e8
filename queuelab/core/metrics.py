"""The metrics recorder both engines feed, and the frames and run summary it produces.

An engine reports timestamped events as they happen (`arrived`, `started`, `finished`,
`retried`, `dead_lettered`, `reprocessed`, `busy_changed`, `workers_changed`) and calls
`close_frame` at every sample boundary; each call returns one `MetricsFrame` and starts the
next interval. The recorder keeps no frames and no whole-run list of waits — the engine hands
frames onward — only the current interval's waits and fixed-size whole-run summaries
(`LogHistogram`, `BatchMeans`), so memory stays bounded however long the run.

Conventions
* Times are scenario seconds and must not go backwards (the simulator's are exact; the live
  runtime's come from one event loop). A late event is counted but integrates nothing.
* A wait is a task's queueing delay: arrival to the start of its FIRST attempt. Retries'
  time in backoff is not a wait; it shows as `retrying`. A negative wait (a live clock's
  jitter) counts as 0.
* Undefined figures are NaN, never 0: the wait percentiles of an interval in which no task
  started, the mean service time of one in which none finished. A 0 would plot as a real
  (and flattering) value; CSV writers write NaN as an empty cell, plots leave a gap.
* `workers` counts every live worker — starting, idle, busy or draining — because each one
  holds a slot the pool pays for; `busy` counts those running a task.
* Window totals: the last eight columns of a frame are running totals since the start (first
  starts, waits, busy and worker time, time in system, departures), so a window's mean wait,
  utilization, L and W are differences of two frames (`core.segments`): exact for any window,
  which is what a Little's-law check needs. The time in system is kept by engines that
  report it (`add_tally`'s `system_area` and `sojourn`, or per event `entered` and `left`);
  elsewhere (the monitor) it is NaN.
* Warm-up: the summary covers only [start + warmup, end]. Counts are of events at or after
  the warm-up end; waits of tasks whose first attempt starts before it are excluded; time
  integrals (utilization, worker-seconds) start exactly there. Frames always cover
  everything.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from queuelab.core.checks import number
from queuelab.core.stats import BatchMeans, LogHistogram, sorted_quantile

NAN = float("nan")
RATE_WINDOW = 60.0
"""s: the window an autoscaler's measured rates cover (`MetricsRecorder.recent_rates`), as a
monitoring system's rate over the last minute would."""
PENDING_WAITS = 4096  # waits gathered before they are fed to the whole-run statistics


class MetricsFrame(NamedTuple):
    """What happened over one sample interval (ending at `t`) and the state at its end.

    A named tuple rather than a frozen dataclass: equally immutable, and built about four
    times faster, which matters once per frame of a simulated hour.

    Rates are per second of the interval; `utilization` is time-integrated over it (busy
    worker-seconds / live worker-seconds, 0 when no worker lived); `error_rate` is failed /
    finished attempts (0 when none finished). Field order is the frames.csv column order.
    """

    t: float
    depth: int  # waiting to be claimed, at t
    in_flight: int  # claimed and not finished, at t
    workers: int  # live workers at t (starting, idle, busy or draining)
    busy: int  # workers running a task at t
    utilization: float  # 0..1 over the interval
    arrival_rate: float  # new tasks per second
    throughput: float  # successful completions per second
    error_rate: float  # failed attempts / finished attempts, 0..1
    retry_rate: float  # retries scheduled per second
    dead_letters: int  # dead-letter queue size at t
    wait_p50: float  # exact percentiles of the waits of tasks first started in the interval;
    wait_p95: float  # NaN when none started
    wait_p99: float
    retrying: int  # waiting out a retry backoff, at t
    mean_service: float  # mean service time of attempts finished in the interval; NaN if none
    created: int  # tasks ever created, at t
    done: int  # tasks completed successfully, at t
    breaker_open: int  # 1 while the circuit breaker is open, else 0
    carried_over: int  # tasks found in the queue when a live run began and kept, at t
    by_others: int  # a shared queue: taken off it by other processes, net of their adds
    rejected: int  # arrivals turned away by `[queue] max_length` so far, at t
    abandoned: int  # tasks whose caller gave up, dropped unserved at pick-up, at t
    goodput: float  # completions per second of tasks whose caller still waited
    client_timeouts: int  # tasks abandoned by their caller (still waiting at its timeout), at t
    client_retries: int  # retries the callers sent (each a new task, in `created`), at t
    gave_up: int  # callers that timed out with no retry left or no budget token, at t
    wasted_work: float  # worker-seconds spent on tasks whose caller had gone, at t
    # Running totals since the run began, so that any window's figure is the difference of
    # two frames (exact whatever the window, and whatever folding the plots' history does):
    first_starts: int  # tasks whose first attempt has started
    waited: int  # … of them, those that waited at all (wait > 0)
    wait_sum: float  # … their waits added up, seconds
    busy_area: float  # busy worker-seconds
    worker_area: float  # live worker-seconds
    system_area: float  # ∫ (waiting + in flight + retrying) dt, task-seconds; NaN if not kept
    departed: int  # tasks that left the system: completed or dead-lettered
    sojourn_sum: float  # … their times in system (arrival to leaving) added up; NaN if not kept

    def as_row(self) -> tuple[float | int, ...]:
        """The values in FRAME_COLUMNS order (one frames.csv row)."""
        return tuple(self)


FRAME_COLUMNS: tuple[str, ...] = MetricsFrame._fields
_new_frame = tuple.__new__  # MetricsFrame from its values in field order, without a call frame
INT_COLUMNS: frozenset[str] = frozenset(
    name for name, kind in MetricsFrame.__annotations__.items()
    if getattr(kind, "__forward_arg__", kind) in ("int", int)
)
"""Columns that hold counts (integers); the rest are floats, NaN where nothing was measured."""


def _plain(value: Any) -> Any:
    """A JSON-able value: NaN and infinities become None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The whole run after warm-up. NaN marks a figure with nothing to measure.

    Engines attach their own figures (events, wall_seconds, final_workers, waiting,
    in_flight, retrying …) with `with_extras`; `as_dict` lists them after the fixed fields.
    """

    start: float  # end of the warm-up: where the summary begins
    end: float
    duration: float  # end - start, seconds
    arrived: int
    completed: int
    failed_attempts: int
    retries: int
    dead_lettered: int
    reprocessed: int  # dead letters sent back to the queue
    waits: int  # first starts measured
    mean_wait: float
    mean_wait_ci95: float  # half-width by batch means; NaN until there are 10 batches
    wait_p50: float  # from the log histogram: within 0.5 % of the sample quantile
    wait_p95: float
    wait_p99: float
    max_wait: float
    mean_service: float
    utilization: float  # busy worker-seconds / live worker-seconds
    worker_seconds: float  # integral of the worker count: what the pool cost
    throughput: float  # completed per second
    mean_workers: float  # worker_seconds / duration; NaN for an empty summary
    peak_workers: int  # the most workers alive at once
    worker_starts: int  # workers added after the start (each one a cold start to pay for)
    scale_events: int  # instants at which the worker count changed after the start
    extras: dict[str, Any] = field(default_factory=dict)

    def with_extras(self, **values: Any) -> RunSummary:
        """A copy with more engine-specific figures attached."""
        merged = dict(self.extras)
        merged.update(values)
        return RunSummary(
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "extras"},
            extras=merged,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values in field order, then the extras; NaN and inf become None."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "extras"}
        for key, value in self.extras.items():
            out[key] = _plain(value)
        return out


class MetricsRecorder:
    """Turns an engine's events into one MetricsFrame per sample interval and a RunSummary.

    The event methods run once per event in a simulator doing hundreds of thousands of tasks a
    second, so each is a handful of attribute updates (plus appending a float for a first
    start); the sorting and bucketing of waits happens once per frame, in `close_frame`.
    """

    __slots__ = (
        "_anchor",
        "_batch_means",
        "_busy",
        "_busy_acc",
        "_busy_t",
        "_frame_start",
        "_good",
        "_hist",
        "_i_arrived",
        "_i_dead",
        "_i_failed",
        "_i_ok",
        "_i_reprocessed",
        "_i_retried",
        "_i_service",
        "_interval",
        "_k",
        "_last_t",
        "_marks",
        "_origin",
        "_peak_workers",
        "_pending",
        "_r_arrived",
        "_r_busy",
        "_r_dead",
        "_r_failed",
        "_r_first",
        "_r_left",
        "_r_ok",
        "_r_reprocessed",
        "_r_retried",
        "_r_service",
        "_r_sojourn",
        "_r_system",
        "_r_wait_sum",
        "_r_waited",
        "_r_workers",
        "_scale_events",
        "_scaled_at",
        "_sys_n",
        "_sys_t",
        "_system_kept",
        "_w0",
        "_waits",
        "_waits_flushed",
        "_warm_at",
        "_warm_end",
        "_warm_skip",
        "_worker_starts",
        "_workers",
        "_workers_acc",
        "_workers_t",
    )

    def __init__(self, sample_interval: float, warmup: float = 0.0, start: float = 0.0) -> None:
        number("sample_interval", sample_interval, above=0.0)
        number("warmup", warmup, minimum=0.0)
        self._interval = float(sample_interval)
        start = float(start)
        self._frame_start = start
        self._anchor = start  # frame boundaries are anchor + k·interval, k >= 1
        self._k = 1
        self._last_t = start
        self._origin = start  # the pool built at the start is not scaling
        self._warm_end = start + warmup
        # The hot-path check `t >= _warm_at` fires once, at the first event past the warm-up;
        # after that _warm_at is inf.
        self._warm_at = self._warm_end
        # Piecewise-constant levels: current value, time of last change, interval integral.
        self._busy = 0
        self._busy_t = start
        self._busy_acc = 0.0
        self._workers = 0
        self._workers_t = start
        self._workers_acc = 0.0
        # Interval counters, reset by close_frame.
        self._i_arrived = 0
        self._i_ok = 0
        self._i_failed = 0
        self._i_service = 0.0
        self._i_retried = 0
        self._i_dead = 0
        self._i_reprocessed = 0
        self._waits: list[float] = []
        self._waits_flushed = 0  # waits[:flushed] are already in the whole-run summaries
        self._pending: list[float] = []  # post-warm-up waits not yet in hist/batch means
        self._warm_skip = 0  # waits[:skip] started during the warm-up
        self._good = 0  # completions for a waiting caller, at the last frame (goodput's base)
        # Run totals of closed intervals.
        self._r_arrived = 0
        self._r_ok = 0
        self._r_failed = 0
        self._r_service = 0.0
        self._r_retried = 0
        self._r_dead = 0
        self._r_reprocessed = 0
        self._r_busy = 0.0
        self._r_workers = 0.0
        self._r_first = self._r_waited = 0  # first starts, and those that waited, so far
        self._r_wait_sum = 0.0
        self._r_system = self._r_sojourn = 0.0  # time in system: what add_tally reports
        self._r_left = 0  # … and the tasks that left it neither done nor dead-lettered
        self._sys_n = 0  # tasks in system, for an engine that reports them per event
        self._sys_t = start
        self._system_kept = False  # … once an engine reports it at all
        self._w0: tuple[float, ...] = ()  # cumulative totals at the end of the warm-up
        # Pool changes after the warm-up: starts, distinct instants of change, the peak.
        self._worker_starts = 0
        self._scale_events = 0
        self._scaled_at = -math.inf
        self._peak_workers = 0
        self._hist = LogHistogram()
        self._batch_means = BatchMeans()
        # (t, arrived, finished attempts, their service seconds) run totals at each closed
        # frame, the oldest at least RATE_WINDOW before the newest: `recent_rates`.
        self._marks: deque[tuple[float, int, int, float]] = deque([(start, 0, 0, 0.0)])
        if warmup == 0:
            self._end_warmup()

    # -- configuration ------------------------------------------------------------------------

    @property
    def sample_interval(self) -> float:
        return self._interval

    @property
    def warmup_end(self) -> float:
        return self._warm_end

    @property
    def frame_start(self) -> float:
        """Start of the interval the next frame will cover."""
        return self._frame_start

    @property
    def next_frame_at(self) -> float:
        """The boundary at which the engine should call close_frame next."""
        return self._anchor + self._k * self._interval

    @property
    def wait_histogram(self) -> LogHistogram:
        """The whole-run histogram of post-warm-up waits, up to the last frame; read only."""
        self._flush_waits(force=True)
        return self._hist

    # -- hot path -----------------------------------------------------------------------------

    def arrived(self, t: float) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        self._i_arrived += 1

    def started(self, t: float, wait: float | None) -> None:
        """An attempt started; pass `wait` only for a task's first attempt."""
        if t >= self._warm_at:
            self._end_warmup()
        if wait is not None:  # a live clock can put a start a hair before its arrival
            self._waits.append(wait if wait > 0.0 else 0.0)

    def finished(self, t: float, service: float, ok: bool) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        if ok:
            self._i_ok += 1
        else:
            self._i_failed += 1
        self._i_service += service

    def retried(self, t: float) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        self._i_retried += 1

    def dead_lettered(self, t: float) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        self._i_dead += 1

    def reprocessed(self, t: float, n: int) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        self._i_reprocessed += n

    def busy_changed(self, t: float, busy: int) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        dt = t - self._busy_t
        if dt > 0:
            self._busy_acc += self._busy * dt
            self._busy_t = t
        self._busy = busy

    def workers_changed(self, t: float, workers: int) -> None:
        if t >= self._warm_at:
            self._end_warmup()
        dt = t - self._workers_t
        if dt > 0:
            self._workers_acc += self._workers * dt
            self._workers_t = t
        if self._w0 and t > self._origin and workers != self._workers:
            if workers > self._workers:
                self._worker_starts += workers - self._workers
            if t != self._scaled_at:  # a resize by several workers at once is one event
                self._scale_events += 1
                self._scaled_at = t
        if self._w0 and workers > self._peak_workers:
            self._peak_workers = workers
        self._workers = workers

    def entered(self, t: float, n: int = 1) -> None:
        """`n` tasks entered the system (admitted to the queue) at `t`: the per-event form of
        `add_tally`'s `system_area`, for an engine that counts one event at a time."""
        self._system_to(t)
        self._sys_n += n
        self._system_kept = True

    def left(self, t: float, sojourn: float, *, counted: bool = True) -> None:
        """A task left the system at `t` after `sojourn` seconds in it; `counted` when its
        leaving is already counted as a completion or a dead letter (False: dropped
        unserved, its caller gone)."""
        self._system_to(t)
        self._sys_n -= 1
        self._r_sojourn += sojourn
        if not counted:
            self._r_left += 1
        self._system_kept = True

    def _system_to(self, t: float) -> None:
        dt = t - self._sys_t
        if dt > 0:
            self._r_system += self._sys_n * dt
            self._sys_t = t

    def add_tally(
        self,
        t: float,
        *,
        arrived: int = 0,
        ok: int = 0,
        failed: int = 0,
        service: float = 0.0,
        waits: list[float] | None = None,
        busy_area: float = 0.0,
        busy: int | None = None,
        system_area: float | None = None,
        sojourn: float = 0.0,
        left: int = 0,
    ) -> None:
        """The bulk form of arrived/started/finished/busy_changed, for an engine that counts inline.

        The simulator counts its hottest events in local variables and hands them over here
        at each frame boundary and at the warm-up end, which is what lets it run hundreds of
        thousands of tasks a second. Everything tallied must have happened at or before `t`
        (and, around the warm-up, on the same side of it as `t`): `busy_area` is the busy
        worker-seconds since the previous tally, `busy` the busy count at `t`; `system_area`
        the task-seconds spent in the system (waiting, in flight or retrying) since the
        previous tally and `sojourn` the times in system of the tasks that left since then;
        `left` counts those that left neither done nor dead-lettered (dropped unserved) - an
        engine that never passes them leaves the frames' time-in-system columns NaN.
        """
        self._i_arrived += arrived
        self._i_ok += ok
        self._i_failed += failed
        self._i_service += service
        if waits:
            self._waits.extend(waits)
        if busy is not None:
            self._busy_acc += busy_area
            self._busy = busy
            self._busy_t = t
        if system_area is not None:
            self._r_system += system_area
            self._r_sojourn += sojourn
            self._r_left += left
            self._system_kept = True
        if t >= self._warm_at:
            self._end_warmup()

    # -- per frame ----------------------------------------------------------------------------

    def close_frame(
        self,
        t: float,
        *,
        depth: int,
        in_flight: int,
        retrying: int,
        dead_letters: int,
        created: int,
        done: int,
        breaker_open: bool = False,
        carried_over: int = 0,
        by_others: int = 0,
        rejected: int = 0,
        abandoned: int = 0,
        good: int | None = None,
        client_timeouts: int = 0,
        client_retries: int = 0,
        gave_up: int = 0,
        wasted_work: float = 0.0,
    ) -> MetricsFrame:
        """The frame for [frame_start, t]; then start the next interval at t.

        `good` is the completions so far of tasks whose caller still waited (None: all of
        `done`, as without `[clients]`); the goodput is its growth over the interval."""
        if t >= self._warm_at:
            self._end_warmup()
        self._integrate_to(t)
        self._system_to(t)
        dt = t - self._frame_start
        if self._workers_acc > 0:
            utilization = min(1.0, self._busy_acc / self._workers_acc)
        elif dt <= 0 and self._workers > 0:  # a zero-length frame: the instantaneous ratio
            utilization = min(1.0, self._busy / self._workers)
        else:
            utilization = 0.0
        per_s = 1.0 / dt if dt > 0 else 0.0
        finished = self._i_ok + self._i_failed
        waits = self._waits
        good_now = done if good is None else good
        self._flush_waits()
        if waits:
            waits.sort()
            p50 = sorted_quantile(waits, 0.50)
            p95 = sorted_quantile(waits, 0.95)
            p99 = sorted_quantile(waits, 0.99)
            self._r_first += len(waits)
            self._r_waited += len(waits) - bisect_right(waits, 0.0)
            self._r_wait_sum += sum(waits)
        else:
            p50 = p95 = p99 = NAN
        kept = self._system_kept
        # positional, in field order: a keyword call builds a dict per frame (a tenth of a
        # simulated frame's cost); tests/core/test_metrics.py checks every field by name
        frame = _new_frame(MetricsFrame, (
            t,
            depth,
            in_flight,
            self._workers,  # workers
            self._busy,  # busy
            utilization,
            self._i_arrived * per_s,  # arrival_rate
            self._i_ok * per_s,  # throughput
            self._i_failed / finished if finished else 0.0,  # error_rate
            self._i_retried * per_s,  # retry_rate
            dead_letters,
            p50,
            p95,
            p99,
            retrying,
            self._i_service / finished if finished else NAN,  # mean_service
            created,
            done,
            1 if breaker_open else 0,  # breaker_open
            carried_over,
            by_others,
            rejected,
            abandoned,
            (good_now - self._good) * per_s,  # goodput
            client_timeouts,
            client_retries,
            gave_up,
            wasted_work,
            self._r_first,
            self._r_waited,
            self._r_wait_sum,
            self._r_busy + self._busy_acc,  # busy_area
            self._r_workers + self._workers_acc,  # worker_area
            self._r_system if kept else NAN,  # system_area
            self._r_ok + self._i_ok + self._r_dead + self._i_dead + self._r_left,  # departed
            self._r_sojourn if kept else NAN,  # sojourn_sum
        ))
        self._good = good_now
        self._mark(t)
        self._r_arrived += self._i_arrived
        self._r_ok += self._i_ok
        self._r_failed += self._i_failed
        self._r_service += self._i_service
        self._r_retried += self._i_retried
        self._r_dead += self._i_dead
        self._r_reprocessed += self._i_reprocessed
        self._r_busy += self._busy_acc
        self._r_workers += self._workers_acc
        self._i_arrived = self._i_ok = self._i_failed = 0
        self._i_retried = self._i_dead = self._i_reprocessed = 0
        self._i_service = self._busy_acc = self._workers_acc = 0.0
        waits.clear()
        self._waits_flushed = self._warm_skip = 0
        if t > self._frame_start:
            self._frame_start = t
        self._advance_boundary(t)
        return frame

    def _mark(self, t: float) -> None:
        """Remember the run totals at a frame's close, for `recent_rates`."""
        marks = self._marks
        marks.append((t, self._r_arrived + self._i_arrived,
                      self._r_ok + self._i_ok + self._r_failed + self._i_failed,
                      self._r_service + self._i_service))
        while len(marks) > 2 and marks[1][0] <= t - RATE_WINDOW:
            marks.popleft()

    def recent_rates(self) -> tuple[float | None, float | None]:
        """(arrival rate, attempts finished per busy worker-second) over the closed frames of
        the last RATE_WINDOW seconds (all of them early in a run): what an autoscaler can
        measure. None where nothing was measured: no frame closed yet, or no attempt finished.
        """
        marks = self._marks
        t1, a1, f1, s1 = marks[-1]
        t0, a0, f0, s0 = marks[0]
        if t1 <= t0:
            return None, None
        service = s1 - s0
        return (a1 - a0) / (t1 - t0), ((f1 - f0) / service if service > 0 else None)

    # -- whole run ----------------------------------------------------------------------------

    def summary(self, t: float | None = None) -> RunSummary:
        """The run from the end of the warm-up to `t` (default: the latest frame or level change).

        Cheap enough to call per GUI refresh: it flushes the current interval's waits into the
        whole-run summaries and reads the totals, without closing a frame. The time integrals
        are brought up to `t`, so `t` must not be later than events still to be reported.
        """
        latest = self._latest()
        end = latest if t is None else max(t, latest)
        if end >= self._warm_at:
            self._end_warmup()
        self._integrate_to(end)
        self._flush_waits(force=True)
        now = self._cumulative()
        if self._w0:
            d = [a - b for a, b in zip(now, self._w0, strict=True)]
        else:  # still warming up: nothing measured yet
            d = [0, 0, 0, 0, 0, 0.0, 0, 0.0, 0.0]
        arrived, ok, failed, retried, dead, service, reprocessed, busy_s, worker_s = d
        duration = max(0.0, end - self._warm_end)
        hist, bm = self._hist, self._batch_means
        p50, p95, p99 = hist.quantiles((0.50, 0.95, 0.99))
        finished = ok + failed
        return RunSummary(
            start=self._warm_end,
            end=end,
            duration=duration,
            arrived=int(arrived),
            completed=int(ok),
            failed_attempts=int(failed),
            retries=int(retried),
            dead_lettered=int(dead),
            reprocessed=int(reprocessed),
            waits=hist.count,
            mean_wait=hist.mean,
            mean_wait_ci95=bm.ci95_halfwidth(),
            wait_p50=p50,
            wait_p95=p95,
            wait_p99=p99,
            max_wait=hist.max,
            mean_service=service / finished if finished else NAN,
            utilization=min(1.0, busy_s / worker_s) if worker_s > 0 else 0.0,
            worker_seconds=worker_s,
            throughput=ok / duration if duration > 0 else NAN,
            mean_workers=worker_s / duration if duration > 0 else NAN,
            peak_workers=self._peak_workers if self._w0 else 0,
            worker_starts=self._worker_starts,
            scale_events=self._scale_events,
        )

    # -- internals ----------------------------------------------------------------------------

    def _integrate_to(self, t: float) -> None:
        """Bring both time integrals up to t (no-op for a t not after the last change)."""
        if t > self._last_t:
            self._last_t = t
        dt = t - self._busy_t
        if dt > 0:
            self._busy_acc += self._busy * dt
            self._busy_t = t
        dt = t - self._workers_t
        if dt > 0:
            self._workers_acc += self._workers * dt
            self._workers_t = t

    def _latest(self) -> float:
        """The latest time seen; the hot path leaves its trace only in the level timestamps."""
        return max(self._last_t, self._busy_t, self._workers_t)

    def _advance_boundary(self, t: float) -> None:
        """Move the next boundary past t (a hair of tolerance absorbs k·interval rounding)."""
        tolerance = 1e-9 * self._interval
        while self._anchor + self._k * self._interval <= t + tolerance:
            self._k += 1

    def _cumulative(self) -> tuple[float, ...]:
        """Totals since the start: closed intervals plus the open one (integrals as of now)."""
        return (
            self._r_arrived + self._i_arrived,
            self._r_ok + self._i_ok,
            self._r_failed + self._i_failed,
            self._r_retried + self._i_retried,
            self._r_dead + self._i_dead,
            self._r_service + self._i_service,
            self._r_reprocessed + self._i_reprocessed,
            self._r_busy + self._busy_acc,
            self._r_workers + self._workers_acc,
        )

    def _end_warmup(self) -> None:
        """Snapshot the totals exactly at the warm-up end, once, at the first event past it."""
        self._warm_at = math.inf
        self._integrate_to(self._warm_end)
        self._w0 = self._cumulative()
        self._peak_workers = self._workers  # the level the measured span starts with
        self._warm_skip = len(self._waits)  # every wait so far started during the warm-up

    def _flush_waits(self, force: bool = False) -> None:
        """Feed the open interval's post-warm-up waits, in start order, to the run summaries.

        They gather in `_pending` first and reach the histogram and the batch means a few
        thousand at a time (or when a summary is asked for): per call, those cost about as
        much as a frame's worth of waits, so batching keeps short frames cheap.
        """
        waits = self._waits
        if not self._w0:  # still warming up: nothing here counts
            return
        begin = max(self._waits_flushed, self._warm_skip)
        if begin == 0:
            self._pending.extend(waits)
        elif begin < len(waits):
            self._pending.extend(waits[begin:])
        self._waits_flushed = len(waits)
        if len(self._pending) >= PENDING_WAITS or (force and self._pending):
            self._hist.extend(self._pending)
            self._batch_means.extend(self._pending)
            self._pending.clear()
